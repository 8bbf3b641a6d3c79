"""Batched writes of the SQL adapters: concurrent adds share one statement (group commit), yet
each caller gets its own outcome; batches of updates and log lines as the service sends them."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator

import pytest
from contract_support import S, at, make_job, psycopg_connect, rich_job
from sqlalchemy.engine import make_url

from dpr.adapters.sql.job_repository import SqlJobRepository
from dpr.adapters.sql.log_store import SqlJobLogStore
from dpr.domain.errors import ConcurrentUpdate
from dpr.ports.log_store import JobLogStore, LogLine, LogRecord
from tests.sql_stores import open_sql_store

Store = tuple[SqlJobRepository, SqlJobLogStore]


@pytest.fixture
async def store(sql_url: str) -> AsyncIterator[Store]:
    """A SQL store on the suite's database, closed afterwards."""
    repository, log_store = await open_sql_store(sql_url, migrate=False)
    try:
        yield repository, log_store
    finally:
        await repository.close()


async def test_concurrent_adds_are_all_stored_and_a_duplicate_fails_alone(store: Store) -> None:
    repository, _ = store
    await repository.add(make_job("taken"))
    fresh = [make_job(f"job-{n}") for n in range(20)]
    calls = [*fresh[:10], make_job("taken"), *fresh[10:]]
    outcomes = await asyncio.gather(*(repository.add(job) for job in calls), return_exceptions=True)
    assert isinstance(outcomes.pop(10), ConcurrentUpdate)
    assert outcomes == [None] * 20
    assert [await repository.get(job.job_id) for job in fresh] == fresh


async def test_a_caller_that_stops_waiting_does_not_stop_the_others(store: Store) -> None:
    repository, _ = store
    impatient = asyncio.create_task(repository.add(make_job("impatient")))
    patient = [asyncio.create_task(repository.add(make_job(f"patient-{n}"))) for n in range(5)]
    impatient.cancel()
    await asyncio.gather(*patient)
    assert [(await repository.get(f"patient-{n}")).job_id for n in range(5)] == [f"patient-{n}" for n in range(5)]


async def test_two_hundred_adds_at_once_are_stored_equal(store: Store) -> None:
    repository, _ = store
    kinds = [S.ACCEPTED, S.RUNNING, S.SUCCESSFUL, S.FAILED, S.DISMISSED]
    jobs = [make_job(f"job-{n:03d}", status=kinds[n % 5], created=n, owner=("alice", None)[n % 2]) for n in range(200)]
    jobs[7] = rich_job()
    assert await asyncio.gather(*(repository.add(job) for job in jobs)) == [None] * 200
    assert [await repository.get(job.job_id) for job in jobs] == jobs


async def test_a_job_with_text_the_driver_cannot_encode_fails_alone(store: Store) -> None:
    """A lone surrogate (Python text no UTF-8 encoder takes) fails its own job, not its batch's."""
    repository, _ = store
    fresh = [make_job(f"job-{n}") for n in range(10)]
    jobs = [*fresh[:5], make_job("bad", message="lone \udc80 surrogate"), *fresh[5:]]
    outcomes = await asyncio.gather(*(repository.add(job) for job in jobs), return_exceptions=True)
    assert isinstance(outcomes.pop(5), UnicodeEncodeError)
    assert outcomes == [None] * 10
    bad = fresh[3].start(at(5)).fail(at(6), "lone \udc80 surrogate")
    changes = [(job.start(at(5)), job.version) for job in fresh]
    changes[3] = (bad, fresh[3].version)
    with pytest.raises(UnicodeEncodeError):  # nothing stored: the service then stores them one by one
        await repository.update_many(changes)
    assert [(await repository.get(job.job_id)).version for job in fresh] == [1] * 10


async def test_a_job_without_results_has_sql_null_there_not_json_null(store: Store, sql_url: str) -> None:
    repository, _ = store
    jobs = [make_job(f"job-{n}") for n in range(3)]
    await asyncio.gather(*(repository.add(job) for job in jobs))
    ended = [jobs[0].start(at(1)).fail(at(2), "no results"), jobs[1].start(at(1)).succeed(at(2), {"x": None})]
    assert await repository.update_many([(ended[0], 1), (ended[1], 1)]) == [None, None]
    query = "SELECT job_id, results IS NULL, request IS NULL FROM jobs ORDER BY job_id"
    assert raw_rows(sql_url, query) == [("job-0", True, False), ("job-1", False, False), ("job-2", True, False)]


async def test_two_stores_appending_to_one_job_at_once_number_its_lines_without_gaps(sql_url: str) -> None:
    """Like two service processes recording one job's events: batches race for the same numbers."""
    stores = [await open_sql_store(sql_url, migrate=False) for _ in range(2)]
    try:

        async def appender(log_store: JobLogStore, name: str) -> list[LogRecord]:
            out: list[LogRecord] = []
            for b in range(15):
                batch = [LogLine(job_id="job", at=at(b), level="INFO", line=f"{name} {b} {k}") for k in range(4)]
                batch.append(LogLine(job_id="job", at=at(b), level="INFO", line=f"shared {b}", run="r", run_seq=b))
                out += await log_store.append_many(batch)
            return out

        ours, theirs = await asyncio.gather(*(appender(logs, f"store {n}") for n, (_, logs) in enumerate(stores)))
        stored = await stores[0][1].read("job")
        assert [r.seq for r in stored] == list(range(15 * 9))
        assert sorted([*ours, *theirs], key=lambda r: r.seq) == stored
        for name, records in (("store 0", ours), ("store 1", theirs)):  # each batch's lines in order
            mine = [r.line for r in records if r.line.startswith(name)]
            assert mine == [f"{name} {b} {k}" for b in range(15) for k in range(4)]
    finally:
        for repository, _ in stores:
            await repository.close()


async def test_nul_characters_in_a_batch_of_log_lines_are_stored_as_replacement_characters(store: Store) -> None:
    repository, log_store = store
    batch = [LogLine(job_id=f"job-{n % 2}", at=at(n), level="IN\x00FO", line=f"out\x00put {n}") for n in range(4)]
    records = await log_store.append_many(batch)
    assert [(r.job_id, r.seq, r.level, r.line) for r in records] == [
        (f"job-{n % 2}", n // 2, "IN\ufffdFO", f"out\ufffdput {n}") for n in range(4)
    ]
    assert [*await log_store.read("job-0"), *await log_store.read("job-1")] == [records[n] for n in (0, 2, 1, 3)]


def raw_rows(url: str, query: str) -> list[tuple[object, ...]]:
    """Rows read past the adapter: sqlite3 or psycopg on the same database."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        with sqlite3.connect(sa_url.database or "") as conn:
            return [tuple(bool(v) if isinstance(v, int) else v for v in row) for row in conn.execute(query)]
    with psycopg_connect(sa_url) as conn:
        return [tuple(row) for row in conn.execute(query)]
