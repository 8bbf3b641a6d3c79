"""A private PostgreSQL server goes down and comes back: the SQL store says so, then recovers."""

from __future__ import annotations

import asyncio
import traceback
from collections.abc import Awaitable, Callable, Iterator
from typing import Any

import pytest
from contract_support import at, make_job

from dpr.adapters.sql.engine import PING_AFTER_IDLE_SECONDS
from dpr.domain.errors import Unavailable
from dpr.domain.query import JobQuery
from tests.pg_server import PASSWORD, PrivateServer, private_postgres
from tests.sql_stores import open_sql_store

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def server() -> Iterator[PrivateServer]:
    with private_postgres() as started:
        yield started


def assert_safe(error: Unavailable, server: PrivateServer) -> None:
    """The error names where the database is and never shows the password, even in its chain."""
    assert error.what == "database"
    assert f"127.0.0.1:{server.port}/postgres" in error.reason
    printed = "".join(traceback.format_exception(error))
    assert PASSWORD not in printed
    assert PASSWORD not in repr(error.args)


async def test_calls_raise_unavailable_while_the_server_is_down_then_work_again(server: PrivateServer) -> None:
    repository, log_store = await open_sql_store(server.url(), connect_timeout=20, connect_pause=0.2)
    try:
        job = make_job("survivor")
        await repository.add(job)
        await log_store.append(job.job_id, at(1), "INFO", "before the outage")
        server.stop()
        calls: list[Callable[[], Awaitable[Any]]] = [
            lambda: repository.get(job.job_id),
            lambda: repository.add(make_job("during")),
            lambda: repository.update(job.start(at(2)), expected_version=job.version),
            lambda: repository.list_jobs(JobQuery(now=at(5), count=True)),
            lambda: repository.list_active(),
            lambda: repository.count_active(),
            lambda: repository.delete(job.job_id),
            lambda: log_store.append(job.job_id, at(3), "INFO", "lost"),
            lambda: log_store.read(job.job_id),
            lambda: log_store.delete(job.job_id),
        ]
        for call in calls:
            with pytest.raises(Unavailable) as raised:
                await call()
            assert_safe(raised.value, server)
        await asyncio.to_thread(server.start)
        assert await repository.get(job.job_id) == job
        await repository.update(job.start(at(4)), expected_version=job.version)
        assert [r.line for r in await log_store.read(job.job_id)] == ["before the outage"]
    finally:
        await repository.close()


async def test_building_the_store_waits_for_a_server_that_starts_late(server: PrivateServer) -> None:
    server.stop()
    building = asyncio.create_task(open_sql_store(server.url(), connect_timeout=30, connect_pause=0.2))
    await asyncio.sleep(1.0)
    assert not building.done()
    await asyncio.to_thread(server.start)
    repository, _ = await building
    try:
        assert await repository.count_active() >= 0
    finally:
        await repository.close()


async def test_building_the_store_gives_up_after_its_timeout(server: PrivateServer) -> None:
    server.stop()
    try:
        loop = asyncio.get_running_loop()
        began = loop.time()
        with pytest.raises(Unavailable) as raised:
            await open_sql_store(server.url(), connect_timeout=1.5, connect_pause=0.2)
        assert loop.time() - began < 10
        assert "gave up" in raised.value.reason
        assert_safe(raised.value, server)
    finally:
        server.start()


async def test_a_pooled_connection_that_died_while_idle_is_replaced_without_an_error(server: PrivateServer) -> None:
    repository, _ = await open_sql_store(server.url(), connect_timeout=20, connect_pause=0.2)
    try:
        job = make_job("idle")
        await repository.add(job)  # leaves an open connection in the pool
        server.stop()
        await asyncio.to_thread(server.start)
        await asyncio.sleep(PING_AFTER_IDLE_SECONDS + 0.2)
        assert await repository.get(job.job_id) == job  # pinged, found dead, reconnected
    finally:
        await repository.close()
