"""The JobRepository contract, part two: the job list (filters, order, keyset pages, counts).

Run against every adapter (memory, SQLite, PostgreSQL); semantics are ``JobQuery.matches``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from contract_support import S, add_all, at, catalogue, listed_ids, make_job

from dpr.domain.query import Cursor, JobQuery
from dpr.ports.job_repository import JobRepository

SECOND = timedelta(seconds=1)
FILTERS = {
    "no filter lists all, newest first": ({}, ["gone", "ko", "ok", "run", "acc"]),
    "statuses": ({"statuses": frozenset({S.RUNNING, S.FAILED})}, ["ko", "run"]),
    "process ids": ({"process_ids": frozenset({"mockup", "unknown"})}, ["ko", "ok"]),
    "owner": ({"owner": "alice"}, ["ok", "acc"]),
    "unknown owner": ({"owner": "carol"}, []),
    "closed interval, ends included": ({"created_from": at(10), "created_to": at(30)}, ["ko", "ok", "run"]),
    "interval open at the end": ({"created_from": at(30)}, ["gone", "ko"]),
    "interval open at the start": ({"created_to": at(10)}, ["run", "acc"]),
    "interval a microsecond past a job": ({"created_from": at(10) + SECOND / 10**6}, ["gone", "ko", "ok"]),
    "min duration, running measured to now": ({"min_duration": 10 * SECOND}, ["ok", "run"]),
    "max duration, bound included": ({"max_duration": 10 * SECOND}, ["ko", "ok"]),
    "duration range": ({"min_duration": 6 * SECOND, "max_duration": 10 * SECOND}, ["ok"]),
    "zero min duration keeps only started jobs": ({"min_duration": timedelta(0)}, ["ko", "ok", "run"]),
    "running job exactly at the max": ({"max_duration": 80 * SECOND, "min_duration": 80 * SECOND}, ["run"]),
    "a microsecond under the running job": ({"max_duration": 80 * SECOND - SECOND / 10**6}, ["ko", "ok"]),
    "earlier now shortens the running job": ({"now": at(25), "min_duration": 6 * SECOND}, ["ok"]),
    "every filter at once": (
        {
            "statuses": frozenset({S.SUCCESSFUL, S.RUNNING}),
            "process_ids": frozenset({"mockup"}),
            "owner": "alice",
            "created_from": at(20),
            "created_to": at(20),
            "min_duration": SECOND,
        },
        ["ok"],
    ),
}


@pytest.mark.parametrize(("query", "expected"), FILTERS.values(), ids=FILTERS.keys())
async def test_each_filter_keeps_exactly_the_matching_jobs(
    repository: JobRepository, query: dict[str, Any], expected: list[str]
) -> None:
    jobs = catalogue()
    await add_all(repository, *jobs)
    assert await listed_ids(repository, **query) == expected
    reference = JobQuery(**{"now": at(100), **query})
    assert sorted(expected) == sorted(job.job_id for job in jobs if reference.matches(job)), "the test agrees"


async def test_jobs_created_together_are_ordered_by_id_in_code_point_order(repository: JobRepository) -> None:
    names = ["B", "a", "b", "A", "_x", "ä", "Z9", "a-1", "a1"]
    await add_all(repository, *(make_job(name, created=5) for name in names), make_job("early", created=4))
    assert await listed_ids(repository, limit=100) == [*sorted(names, reverse=True), "early"]


async def test_walking_the_pages_returns_every_job_once_while_jobs_are_added(repository: JobRepository) -> None:
    originals = [make_job(f"job-{i:02d}", created=i // 3) for i in range(23)]
    await add_all(repository, *originals)
    seen: list[str] = []
    token: str | None = None
    added = 0
    while True:
        after = None if token is None else Cursor.decode(token)
        page = await repository.list_jobs(JobQuery(now=at(100), limit=5, after=after))
        seen += [job.job_id for job in page.jobs]
        # A newer job lands before the cursor: it must not shift the walk.
        await repository.add(make_job(f"new-{added:02d}", created=50 + added))
        added += 1
        if page.next is None:
            break
        token = page.next.encode()  # the cursor survives the trip through a URL
    expected = [job.job_id for job in sorted(originals, key=lambda j: (j.created, j.job_id), reverse=True)]
    assert seen == expected
    assert added == 5


async def test_a_page_that_ends_exactly_at_the_last_job_has_no_next(repository: JobRepository) -> None:
    await add_all(repository, *(make_job(f"j{i}", created=i) for i in range(4)))
    first = await repository.list_jobs(JobQuery(now=at(100), limit=2))
    assert first.next == Cursor(created=at(2), job_id="j2")
    last = await repository.list_jobs(JobQuery(now=at(100), limit=2, after=first.next))
    assert ([j.job_id for j in last.jobs], last.next) == (["j1", "j0"], None)


async def test_number_matched_counts_every_match_and_only_on_request(repository: JobRepository) -> None:
    await add_all(repository, *catalogue())
    counted = await repository.list_jobs(JobQuery(now=at(100), limit=1, count=True, owner="alice"))
    assert (len(counted.jobs), counted.number_matched) == (1, 2)
    after = await repository.list_jobs(JobQuery(now=at(100), limit=1, count=True, owner="alice", after=counted.next))
    assert after.number_matched == 2, "the count ignores the cursor"
    assert (await repository.list_jobs(JobQuery(now=at(100)))).number_matched is None


async def test_an_empty_repository_lists_nothing(repository: JobRepository) -> None:
    page = await repository.list_jobs(JobQuery(now=at(0), count=True))
    assert (page.jobs, page.next, page.number_matched) == ([], None, 0)
