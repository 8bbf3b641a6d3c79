"""The connection pool: sized by settings, and a burst waits for its connections instead of
opening (and closing again) connections of its own."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from contract_support import empty_tables, make_job
from sqlalchemy import event, text
from sqlalchemy.engine import make_url

from dpr.adapters.settings import Settings, StorageSettings
from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.lanes import close_lanes
from dpr.domain.errors import Unavailable
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
        pool: Any = repository._engine.sync_engine.pool
        assert pool.checkedout() <= 1  # none but the one the reads' lane keeps (lanes.py)
        await close_lanes(repository._engine)
        assert pool.checkedout() == 0
    finally:
        await repository.close()


@pytest.mark.postgres
async def test_a_point_read_on_a_connection_killed_in_use_is_unavailable_once_then_reconnects(
    postgres_url: str,
) -> None:
    """Job reads go through the driver itself: a connection found dead there is dropped from
    the pool (not handed out again) and the error is the database's ``Unavailable``."""
    empty_tables(postgres_url)
    repository, _ = await open_sql_store(postgres_url, pool_size=1, migrate=False)
    try:
        await repository.add(make_job("job-1"))
        async with repository._engine.connect() as conn:  # the pool's one connection
            backend = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
        killer = create_sql_engine(make_url(postgres_url), pool_size=1)
        try:
            async with killer.connect() as conn:
                await conn.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
        finally:
            await killer.dispose()
        # The same connection (idle for less than the ping interval, so not pinged) fails in use.
        with pytest.raises(Unavailable) as caught:
            await repository.get("job-1")
        assert caught.value.what == "database"
        assert (await repository.get("job-1")).job_id == "job-1"
    finally:
        await repository.close()
