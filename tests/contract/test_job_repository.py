"""The JobRepository contract, part one: records, compare-and-set, active jobs, delete.

Run against every adapter (memory, SQLite, PostgreSQL); the job list is in test_job_list.py.
"""

from __future__ import annotations

import asyncio

import pytest
from contract_support import S, add_all, at, catalogue, listed_ids, make_job, rich_job
from msgspec.structs import replace

from dpr.domain.errors import ConcurrentUpdate, InvalidTransition, NoSuchJob
from dpr.domain.job import Job
from dpr.ports.job_repository import JobRepository

# --- add and get --------------------------------------------------------------------------


async def test_a_job_with_every_field_set_comes_back_equal(repository: JobRepository) -> None:
    job = rich_job()
    await repository.add(job)
    assert await repository.get(job.job_id) == job


async def test_a_new_job_with_empty_fields_comes_back_equal(repository: JobRepository) -> None:
    job = make_job()
    await repository.add(job)
    assert await repository.get(job.job_id) == job


async def test_a_failed_job_keeps_its_error(repository: JobRepository) -> None:
    job = make_job(status=S.FAILED, started=1, finished=2)
    await repository.add(job)
    assert (await repository.get(job.job_id)).error == "the processor crashed"


async def test_adding_a_taken_id_raises_concurrent_update_and_keeps_the_first(repository: JobRepository) -> None:
    first = make_job("same", process_id="first")
    await repository.add(first)
    with pytest.raises(ConcurrentUpdate) as raised:
        await repository.add(make_job("same", process_id="second"))
    assert (raised.value.job_id, raised.value.found) == ("same", 1)
    assert await repository.get("same") == first


async def test_getting_an_unknown_job_raises_no_such_job(repository: JobRepository) -> None:
    with pytest.raises(NoSuchJob) as raised:
        await repository.get("nope")
    assert raised.value.job_id == "nope"


# --- compare-and-set update ---------------------------------------------------------------


async def test_an_update_at_the_expected_version_replaces_the_job(repository: JobRepository) -> None:
    job = make_job()
    await repository.add(job)
    running = job.start(at(5)).report(at(6), progress=30, message="working")
    await repository.update(running, expected_version=job.version)
    assert await repository.get(job.job_id) == running


async def test_an_update_at_a_stale_version_raises_and_changes_nothing(repository: JobRepository) -> None:
    job = make_job()
    await repository.add(job)
    started = job.start(at(5))
    await repository.update(started, expected_version=1)
    with pytest.raises(ConcurrentUpdate) as raised:
        await repository.update(job.dismiss(at(6)), expected_version=1)
    assert (raised.value.expected, raised.value.found) == (1, 2)
    assert await repository.get(job.job_id) == started


async def test_updating_an_unknown_job_raises_no_such_job(repository: JobRepository) -> None:
    with pytest.raises(NoSuchJob):
        await repository.update(make_job("ghost"), expected_version=1)


async def test_a_terminal_job_is_never_given_another_status(repository: JobRepository) -> None:
    dismissed = make_job(status=S.DISMISSED, finished=3)
    await repository.add(dismissed)
    late_success = replace(dismissed, status=S.SUCCESSFUL, results={"x": 1}, version=dismissed.version + 1)
    with pytest.raises(InvalidTransition) as raised:
        await repository.update(late_success, expected_version=dismissed.version)
    assert (raised.value.current, raised.value.target) == (S.DISMISSED, S.SUCCESSFUL)
    assert await repository.get(dismissed.job_id) == dismissed


async def test_a_terminal_job_may_be_rewritten_with_the_same_status(repository: JobRepository) -> None:
    done = make_job(status=S.SUCCESSFUL, started=1, finished=2)
    await repository.add(done)
    annotated = replace(done, message="Results moved to cold storage.", version=done.version + 1)
    await repository.update(annotated, expected_version=done.version)
    assert await repository.get(done.job_id) == annotated


async def test_a_stale_version_is_reported_before_a_terminal_status(repository: JobRepository) -> None:
    failed = make_job(status=S.FAILED, finished=2)
    await repository.add(failed)
    with pytest.raises(ConcurrentUpdate):
        await repository.update(replace(failed, status=S.RUNNING), expected_version=failed.version - 1)


async def test_concurrent_read_modify_write_loses_no_update(repository: JobRepository) -> None:
    job = make_job(status=S.RUNNING, started=1)
    await repository.add(job)
    writers, increments = 20, 3

    async def writer() -> int:
        conflicts = 0
        for _ in range(increments):
            while True:
                current = await repository.get(job.job_id)
                bumped = replace(current, progress=current.progress + 1, version=current.version + 1)
                try:
                    await repository.update(bumped, expected_version=current.version)
                    break
                except ConcurrentUpdate:
                    conflicts += 1
        return conflicts

    await asyncio.gather(*(writer() for _ in range(writers)))
    final = await repository.get(job.job_id)
    assert final.progress == writers * increments
    assert final.version == job.version + writers * increments


# --- several updates at once -------------------------------------------------------------


async def test_update_many_stores_the_winners_and_reports_each_losers_reason(repository: JobRepository) -> None:
    fresh, moved, ended = make_job("fresh"), make_job("moved"), make_job("ended", status=S.DISMISSED, finished=3)
    await add_all(repository, fresh, moved, ended)
    moved_by_another = moved.start(at(4))
    await repository.update(moved_by_another, expected_version=moved.version)
    late_success = replace(ended, status=S.SUCCESSFUL, results={"x": 1}, version=ended.version + 1)
    started = fresh.start(at(5))
    changes = [
        (started, fresh.version),
        (moved.dismiss(at(6)), moved.version),
        (make_job("ghost"), 1),
        (late_success, ended.version),
    ]
    outcomes = await repository.update_many(changes)
    assert outcomes[0] is None
    assert [type(o) for o in outcomes[1:]] == [ConcurrentUpdate, NoSuchJob, InvalidTransition]
    assert [await repository.get(i) for i in ("fresh", "moved", "ended")] == [started, moved_by_another, ended]


async def test_update_many_of_winning_changes_stores_all_of_them(repository: JobRepository) -> None:
    jobs = [make_job(f"job-{i}", created=i) for i in range(30)]
    await add_all(repository, *jobs)
    done = [job.start(at(40)).succeed(at(41), {"n": i}) for i, job in enumerate(jobs)]
    assert (
        await repository.update_many([(new, old.version) for new, old in zip(done, jobs, strict=True)]) == [None] * 30
    )
    assert [await repository.get(job.job_id) for job in jobs] == done
    assert await repository.update_many([]) == []


async def test_racing_batches_store_each_job_once(repository: JobRepository) -> None:
    jobs = [make_job(f"job-{i}", created=i) for i in range(20)]
    await add_all(repository, *jobs)

    async def batch(message: str) -> list[Exception | None]:
        return await repository.update_many(
            [(job.start(at(9)).report(at(9), message=message), job.version) for job in jobs]
        )

    outcomes = await asyncio.gather(*(batch(f"writer {w}") for w in range(4)))
    for i, job in enumerate(jobs):
        winners = [w for w in range(4) if outcomes[w][i] is None]
        assert len(winners) == 1, f"{job.job_id}: {[outcomes[w][i] for w in range(4)]}"
        assert all(isinstance(outcomes[w][i], ConcurrentUpdate) for w in range(4) if w != winners[0])
        assert (await repository.get(job.job_id)).message == f"writer {winners[0]}"


# --- active jobs and delete ---------------------------------------------------------------


async def test_active_jobs_are_the_accepted_and_running_ones(repository: JobRepository) -> None:
    await add_all(repository, *catalogue(), make_job("queued", process_id="mockup", created=50))
    assert sorted(job.job_id for job in await repository.list_active()) == ["acc", "queued", "run"]
    counts = [await repository.count_active(p) for p in (None, "echo", "mockup", "unknown")]
    assert counts == [3, 2, 1, 0]


async def test_active_jobs_count_per_owner_and_per_process_and_owner(repository: JobRepository) -> None:
    """The owner bound of admission control: jobs without an owner count only overall."""
    await add_all(repository, *catalogue(), make_job("queued", process_id="mockup", created=50, owner="alice"))
    counts = [await repository.count_active(owner=o) for o in ("alice", "bob", "carol")]
    assert counts == [2, 1, 0]  # alice: acc and queued (ok ended); bob: run
    assert await repository.count_active("mockup", owner="alice") == 1
    assert await repository.count_active("echo", owner="bob") == 1
    assert await repository.count_active("mockup", owner="bob") == 0


async def test_many_reads_at_once_each_get_their_own_job_and_an_unstorable_id_spoils_none(
    repository: JobRepository,
) -> None:
    """Reads asked together (an adapter may batch them) answer each caller with its own job,
    and an id the store could never hold (NUL, a lone surrogate) is just not found."""
    await add_all(repository, *(make_job(f"job-{n:02d}", created=n) for n in range(20)))
    asked = [f"job-{n % 20:02d}" for n in range(45)] + ["nope", "bad\x00id", "\udc80"]
    outcomes = await asyncio.gather(*(repository.get(job_id) for job_id in asked), return_exceptions=True)
    for job_id, outcome in zip(asked, outcomes, strict=True):
        if job_id.startswith("job-"):
            assert isinstance(outcome, Job) and outcome.job_id == job_id
        else:
            assert isinstance(outcome, NoSuchJob), (job_id, outcome)


async def test_the_active_counts_of_admission_agree_with_each_count(repository: JobRepository) -> None:
    """One read for every limit: the snapshot per process and owner sums to each count."""
    await add_all(repository, *catalogue(), make_job("queued", process_id="mockup", created=50, owner="alice"))
    await repository.add(make_job("nobody", process_id="mockup", created=70))
    counts = await repository.active_counts()
    assert counts.total == await repository.count_active() == 4
    for process in ("echo", "mockup", "unknown"):
        assert counts.of_process(process) == await repository.count_active(process)
    for owner in ("alice", "bob", "carol"):
        assert counts.of_owner(owner) == await repository.count_active(owner=owner)
    assert counts.by_process_owner[("mockup", None)] == 1  # no owner: counted overall and per process


async def test_a_deleted_job_is_gone_everywhere(repository: JobRepository) -> None:
    await add_all(repository, *catalogue())
    await repository.delete("run")
    with pytest.raises(NoSuchJob):
        await repository.get("run")
    assert "run" not in await listed_ids(repository)
    assert await repository.count_active() == 1
    await repository.add(make_job("run", created=60))  # the id is free again


async def test_deleting_an_unknown_job_raises_no_such_job(repository: JobRepository) -> None:
    await repository.add(make_job("once"))
    await repository.delete("once")
    with pytest.raises(NoSuchJob):
        await repository.delete("once")


async def test_update_many_changing_one_job_twice_stores_the_first_and_the_second_loses(
    repository: JobRepository,
) -> None:
    job, other = make_job("twice"), make_job("other")
    await add_all(repository, job, other)
    started, dismissed, other_started = job.start(at(5)), job.dismiss(at(6)), other.start(at(5))
    outcomes = await repository.update_many([(started, job.version), (other_started, 1), (dismissed, job.version)])
    assert outcomes[:2] == [None, None]
    assert isinstance(outcomes[2], ConcurrentUpdate)
    assert [await repository.get(i) for i in ("twice", "other")] == [started, other_started]


async def test_update_many_where_one_compare_and_set_loses_stores_all_the_others(repository: JobRepository) -> None:
    jobs = [make_job(f"job-{i:03d}", created=i) for i in range(60)]
    await add_all(repository, *jobs)
    stale = jobs[17].start(at(70))
    await repository.update(stale, expected_version=jobs[17].version)
    done = [job.start(at(80)).succeed(at(81), {"n": i} if i % 2 else None) for i, job in enumerate(jobs)]
    outcomes = await repository.update_many([(new, old.version) for new, old in zip(done, jobs, strict=True)])
    assert isinstance(outcomes.pop(17), ConcurrentUpdate)
    assert outcomes == [None] * 59
    assert [await repository.get(job.job_id) for job in jobs] == [*done[:17], stale, *done[18:]]
