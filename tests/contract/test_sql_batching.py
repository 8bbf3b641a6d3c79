"""Group commit in the SQL job repository: concurrent adds share one statement, yet each caller
gets its own outcome."""

from __future__ import annotations

import asyncio

from contract_support import make_job

from dpr.domain.errors import ConcurrentUpdate
from tests.sql_stores import open_sql_store


async def test_concurrent_adds_are_all_stored_and_a_duplicate_fails_alone(sql_url: str) -> None:
    repository, _ = await open_sql_store(sql_url, migrate=False)
    try:
        await repository.add(make_job("taken"))
        fresh = [make_job(f"job-{n}") for n in range(20)]
        calls = [*fresh[:10], make_job("taken"), *fresh[10:]]
        outcomes = await asyncio.gather(*(repository.add(job) for job in calls), return_exceptions=True)
        assert isinstance(outcomes.pop(10), ConcurrentUpdate)
        assert outcomes == [None] * 20
        assert [await repository.get(job.job_id) for job in fresh] == fresh
    finally:
        await repository.close()


async def test_a_caller_that_stops_waiting_does_not_stop_the_others(sql_url: str) -> None:
    repository, _ = await open_sql_store(sql_url, migrate=False)
    try:
        impatient = asyncio.create_task(repository.add(make_job("impatient")))
        patient = [asyncio.create_task(repository.add(make_job(f"patient-{n}"))) for n in range(5)]
        impatient.cancel()
        await asyncio.gather(*patient)
        assert [(await repository.get(f"patient-{n}")).job_id for n in range(5)] == [f"patient-{n}" for n in range(5)]
    finally:
        await repository.close()
