"""The ownership-lease contract of JobRepository, run against every adapter.

On SQLite and PostgreSQL the racing "instances" are separate stores (engines, connections) on
one database, as separate processes would be; the memory store is single-instance by nature
and races within one process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from contract_support import at, make_job, views_of
from msgspec.structs import replace

from dpr.domain.errors import ConcurrentUpdate
from dpr.domain.status import JobStatus
from dpr.ports.job_repository import JobRepository


@pytest.fixture
async def peers(database_url: str | None, repository: JobRepository) -> AsyncIterator[list[JobRepository]]:
    """Four views of one store: the repository itself and, on SQL, three more stores."""
    async with views_of(repository, database_url, 4) as views:
        yield views


async def test_a_live_lease_keeps_its_jobs_and_an_expired_one_gives_them_to_one_taker(
    repository: JobRepository,
) -> None:
    await repository.add(replace(make_job("a"), owner_instance="one"))
    await repository.add(replace(make_job("b", status=JobStatus.RUNNING), owner_instance="one"))
    await repository.add(replace(make_job("c", status=JobStatus.SUCCESSFUL), owner_instance="one"))
    await repository.add(replace(make_job("d"), owner_instance="two"))
    assert await repository.renew_lease("one", at(10))
    assert await repository.renew_lease("two", at(100))
    assert await repository.take_over("two", at(5)) == [], "one's lease still runs"
    moved = await repository.take_over("two", at(20))
    assert [(j.job_id, j.owner_instance, j.version) for j in moved] == [("a", "two", 2), ("b", "two", 3)]
    assert [await repository.get(j) for j in ("a", "b")] == moved
    assert (await repository.get("c")).owner_instance == "one", "ended jobs stay as they were"
    assert await repository.take_over("three", at(30)) == [], "a lease is taken over once"


async def test_an_instance_whose_lease_was_taken_over_cannot_renew_it_and_its_writes_lose(
    repository: JobRepository,
) -> None:
    job = replace(make_job("a"), owner_instance="one")
    await repository.add(job)
    await repository.renew_lease("one", at(10))
    await repository.renew_lease("two", at(100))
    await repository.take_over("two", at(20))
    assert not await repository.renew_lease("one", at(30))
    with pytest.raises(ConcurrentUpdate):
        await repository.update(job.start(at(21)), expected_version=job.version)
    assert await repository.renew_lease("one-again", at(30)), "under a new id it starts afresh"


async def test_a_released_lease_is_taken_over_at_once_and_an_unknown_release_is_ignored(
    repository: JobRepository,
) -> None:
    await repository.add(replace(make_job("a"), owner_instance="one"))
    await repository.renew_lease("one", at(1000))
    await repository.release_lease("one")
    await repository.release_lease("one")
    await repository.release_lease("never-seen")
    assert [j.job_id for j in await repository.take_over("two", at(1))] == ["a"]


async def test_active_jobs_no_instance_owns_go_to_the_first_taker(repository: JobRepository) -> None:
    await repository.add(make_job("old", created=1))
    await repository.add(make_job("older", created=0))
    moved = await repository.take_over("one", at(5))
    assert [(j.job_id, j.owner_instance) for j in moved] == [("older", "one"), ("old", "one")]
    assert await repository.take_over("two", at(5)) == []


async def test_instances_racing_for_an_expired_lease_exactly_one_wins(peers: list[JobRepository]) -> None:
    first = peers[0]
    for n in range(20):
        await first.add(replace(make_job(f"job-{n:02}", created=n), owner_instance="dead"))
    await first.renew_lease("dead", at(10))
    for n, peer in enumerate(peers):
        assert await peer.renew_lease(f"live-{n}", at(1000))
    results = await asyncio.gather(*(peer.take_over(f"live-{n}", at(20)) for n, peer in enumerate(peers)))
    winners = [n for n, moved in enumerate(results) if moved]
    assert len(winners) == 1, f"the lease went to {winners}"
    (winner,) = winners
    assert [j.job_id for j in results[winner]] == [f"job-{n:02}" for n in range(20)]
    owners = {(await first.get(f"job-{n:02}")).owner_instance for n in range(20)}
    assert owners == {f"live-{winner}"}
