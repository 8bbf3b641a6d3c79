"""The active-job counts (admission limits, health) through every move a job makes.

On SQL they are read from ``active_jobs``, kept by triggers on ``jobs`` (migration 0007), so
each test checks them against the jobs themselves (``list_active`` reads ``jobs``) after every
write path: add, update, update_many, take-over by another instance, delete; and with writers
on several stores at once.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
from contract_support import at, make_job, views_of
from msgspec.structs import replace

from dpr.domain.job import Job
from dpr.domain.status import JobStatus
from dpr.ports.job_repository import JobRepository

PROCESSES = ("echo", "mockup")
OWNERS = ("alice", "bob", None)


async def assert_counts_match_the_jobs(repository: JobRepository) -> None:
    active = await repository.list_active()
    expected = Counter((job.process_id, job.owner) for job in active)
    counts = await repository.active_counts()
    assert dict(counts.by_process_owner) == {key: n for key, n in expected.items() if n}
    assert await repository.count_active() == len(active)
    for process in (*PROCESSES, "unknown"):
        assert await repository.count_active(process) == sum(n for (p, _), n in expected.items() if p == process)
        for owner in OWNERS[:2]:
            assert await repository.count_active(process, owner=owner) == expected[process, owner]
    for owner in OWNERS[:2]:
        assert await repository.count_active(owner=owner) == sum(n for (_, o), n in expected.items() if o == owner)


@pytest.fixture
async def peers(database_url: str | None, repository: JobRepository) -> AsyncIterator[list[JobRepository]]:
    """Three views of one store: the repository itself and, on SQL, two more stores."""
    async with views_of(repository, database_url, 3) as views:
        yield views


async def test_counts_follow_a_job_from_accepted_to_each_end(repository: JobRepository) -> None:
    ends: dict[str, Callable[[Job], Job]] = {
        "ok": lambda job: job.succeed(at(3), {"r": 1}),
        "ko": lambda job: job.fail(at(3), "crashed"),
        "no": lambda job: job.dismiss(at(3)),
    }
    jobs = {name: make_job(name, process_id="mockup", owner="alice") for name in ends}
    for job in jobs.values():
        await repository.add(job)
    await assert_counts_match_the_jobs(repository)
    assert await repository.count_active("mockup", owner="alice") == 3
    for name, job in jobs.items():
        running = job.start(at(1))
        await repository.update(running, expected_version=job.version)
        await assert_counts_match_the_jobs(repository)
        reported = running.report(at(2), progress=50)
        await repository.update(reported, expected_version=running.version)
        await repository.update(ends[name](reported), expected_version=reported.version)
        await assert_counts_match_the_jobs(repository)
    assert await repository.count_active() == 0


async def test_a_job_dismissed_while_accepted_and_one_added_ended_are_not_counted(repository: JobRepository) -> None:
    job = make_job("early", owner="bob")
    await repository.add(job)
    await repository.add(make_job("done", status=JobStatus.SUCCESSFUL, owner="bob"))
    await assert_counts_match_the_jobs(repository)
    await repository.update(job.dismiss(at(1)), expected_version=job.version)
    await assert_counts_match_the_jobs(repository)
    assert await repository.count_active(owner="bob") == 0


async def test_counts_follow_moves_written_together(repository: JobRepository) -> None:
    jobs = [make_job(f"job-{n}", process_id=PROCESSES[n % 2], owner=OWNERS[n % 3]) for n in range(12)]
    for job in jobs:
        await repository.add(job)
    started = [job.start(at(1)) for job in jobs]
    await repository.update_many([(job, old.version) for job, old in zip(started, jobs, strict=True)])
    await assert_counts_match_the_jobs(repository)
    ended = [job.succeed(at(2), {}) if n % 2 else job.fail(at(2), "x") for n, job in enumerate(started[:7])]
    await repository.update_many([(job, old.version) for job, old in zip(ended, started[:7], strict=True)])
    await assert_counts_match_the_jobs(repository)
    assert await repository.count_active() == 5


async def test_counts_are_unchanged_by_a_take_over_and_the_same_on_every_instance(
    peers: list[JobRepository],
) -> None:
    first, second, third = peers
    await first.add(replace(make_job("a", owner="alice"), owner_instance="one"))
    await first.add(replace(make_job("b", status=JobStatus.RUNNING, process_id="mockup"), owner_instance="one"))
    await first.add(replace(make_job("c", status=JobStatus.FAILED, owner="alice"), owner_instance="one"))
    await first.renew_lease("one", at(10))
    before = await first.active_counts()
    moved = await second.take_over("two", at(20))
    assert [job.job_id for job in moved] == ["a", "b"]
    for peer in peers:
        assert await peer.active_counts() == before
        await assert_counts_match_the_jobs(peer)
    taken = next(job for job in moved if job.job_id == "b")
    await third.update(taken.succeed(at(21), {}), expected_version=taken.version)
    for peer in peers:
        await assert_counts_match_the_jobs(peer)
        assert await peer.count_active() == 1


async def test_a_deleted_job_is_no_longer_counted(repository: JobRepository) -> None:
    await repository.add(make_job("gone", owner="alice"))
    await repository.add(make_job("ended", status=JobStatus.DISMISSED, owner="alice"))
    await repository.add(make_job("stays", status=JobStatus.RUNNING, owner="alice"))
    await repository.delete("gone")
    await repository.delete("ended")
    await assert_counts_match_the_jobs(repository)
    assert await repository.count_active(owner="alice") == 1
    await repository.add(make_job("gone", owner="alice"))  # the id is free again, and counted
    assert await repository.count_active(owner="alice") == 2


async def test_counts_stay_exact_with_writers_on_several_instances_at_once(peers: list[JobRepository]) -> None:
    async def churn(peer: JobRepository, n: int) -> None:
        for k in range(8):
            job = make_job(f"w{n}-{k}", process_id=PROCESSES[k % 2], owner=OWNERS[(n + k) % 3])
            await peer.add(job)
            running = job.start(at(1))
            await peer.update(running, expected_version=job.version)
            if k % 3:
                await peer.update(running.succeed(at(2), {}), expected_version=running.version)

    await asyncio.gather(*(churn(peer, n) for n, peer in enumerate(peers)))
    for peer in peers:
        await assert_counts_match_the_jobs(peer)
    assert await peers[0].count_active() == 3 * 3  # k = 0, 3, 6 of each writer stay running
