"""The connection pool: sized by settings, and a burst waits for its connections instead of
opening (and closing again) connections of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from contract_support import empty_tables, make_job
from sqlalchemy import event

from dpr.adapters.settings import Settings, StorageSettings
from dpr.entrypoints.container import sql_engine
from tests.sql_stores import open_sql_store


async def test_the_storage_settings_size_the_pool_and_nothing_overflows_by_default() -> None:
    settings = Settings(storage=StorageSettings(url="postgresql+psycopg://u@127.0.0.1/db", pool_size=3, pool_timeout=7))
    engine = sql_engine(settings)
    try:
        pool: Any = engine.sync_engine.pool
        assert (pool.size(), pool._max_overflow, pool._timeout) == (3, 0, 7)
    finally:
        await engine.dispose()


async def test_overflow_stays_available_when_configured() -> None:
    storage = StorageSettings(url="postgresql+psycopg://u@127.0.0.1/db", max_overflow=4)
    engine = sql_engine(Settings(storage=storage))
    try:
        assert engine.sync_engine.pool._max_overflow == 4  # type: ignore[attr-defined]
    finally:
        await engine.dispose()


@pytest.mark.postgres
async def test_more_concurrent_reads_than_connections_queue_on_the_pool(postgres_url: str) -> None:
    """50 reads at once on a pool of 2: all answered, over the same 2 sessions throughout."""
    empty_tables(postgres_url)
    repository, _ = await open_sql_store(postgres_url, pool_size=2, migrate=False)
    try:
        opened: list[int] = []
        event.listen(repository._engine.sync_engine, "connect", lambda conn, _record: opened.append(id(conn)))
        await repository.add(make_job("job-1"))
        for _ in range(3):
            found = await asyncio.gather(*(repository.get("job-1") for _ in range(50)))
            assert {job.job_id for job in found} == {"job-1"}
        assert len(opened) <= 2  # connect events since the listener: at most the pool's 2
        assert repository._engine.sync_engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    finally:
        await repository.close()
