"""Lanes (adapters/sql/lanes.py): a batcher's connection kept between its statements, given back
when idle, when the pool has no other, when a statement fails and when the engine closes.

Which connection a use got is told by the driver's connection object under it; the pool's own
counters tell what is checked out.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.lanes import Lane, close_lanes


@pytest.fixture
async def engine(sql_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_sql_engine(make_url(sql_url), pool_size=3)
    try:
        yield engine
    finally:
        await close_lanes(engine)
        await engine.dispose()


def checked_out(engine: AsyncEngine) -> int:
    pool: Any = engine.sync_engine.pool
    return int(pool.checkedout())


async def use(lane: Lane, statement: str = "SELECT 1") -> object:
    """Run ``statement`` on the lane; the driver connection it ran on."""
    async with lane() as conn:
        assert (await conn.execute(text(statement))).scalar_one() == 1
        return await lane.driver(conn)


async def test_statements_that_follow_each_other_share_one_connection(engine: AsyncEngine) -> None:
    opened: list[object] = []
    event.listen(engine.sync_engine, "connect", lambda conn, _record: opened.append(conn))
    lane = Lane(engine)
    drivers = {id(await use(lane)) for _ in range(20)}
    assert len(drivers) == 1
    assert len(opened) == 1
    assert lane.holds and checked_out(engine) == 1  # kept between them


async def test_a_caller_finding_the_lane_busy_gets_a_connection_of_its_own(engine: AsyncEngine) -> None:
    lane = Lane(engine)
    async with lane() as first:
        assert lane.busy
        async with lane() as second:
            assert (await lane.driver(second)) is not (await lane.driver(first))
            assert (await second.execute(text("SELECT 1"))).scalar_one() == 1
        assert checked_out(engine) == 1  # the second went back at once
    assert not lane.busy
    assert checked_out(engine) == 1  # the lane keeps the first


async def test_an_idle_lane_gives_its_connection_back(engine: AsyncEngine) -> None:
    lane = Lane(engine, hold=0.05)
    kept = await use(lane)
    await asyncio.sleep(0.02)
    assert await use(lane) is kept  # used again within the hold: the same connection
    for _ in range(100):
        if not lane.holds and checked_out(engine) == 0:
            break
        await asyncio.sleep(0.02)
    assert not lane.holds
    assert checked_out(engine) == 0
    assert await use(lane) is not None  # and takes one again when needed


async def test_a_lane_never_keeps_the_pools_last_idle_connection(sql_url: str) -> None:
    """With a pool of one, a lane keeping its connection would make every other request wait."""
    engine = create_sql_engine(make_url(sql_url), pool_size=1)
    try:
        lane = Lane(engine)
        await use(lane)
        assert not lane.holds
        assert checked_out(engine) == 0
        async with engine.connect() as conn:  # answered at once, not after the hold
            assert (await conn.execute(text("SELECT 1"))).scalar_one() == 1
    finally:
        await engine.dispose()


async def test_a_busy_pool_gets_the_connection_back_after_the_statement(engine: AsyncEngine) -> None:
    lane = Lane(engine)
    async with engine.connect() as a, engine.connect() as b:  # two of the pool's three
        await a.execute(text("SELECT 1"))
        await b.execute(text("SELECT 1"))
        await use(lane)  # takes the third: none left idle, so it goes back
        assert not lane.holds
        assert checked_out(engine) == 2


async def test_a_failed_statement_gives_the_connection_back(engine: AsyncEngine) -> None:
    lane = Lane(engine)
    await use(lane)
    with pytest.raises(DBAPIError):
        await use(lane, "SELECT no_such_column FROM jobs")
    assert not lane.holds
    assert checked_out(engine) == 0
    assert await use(lane) is not None  # the next statement works, on a connection from the pool


async def test_closing_the_lanes_of_an_engine_gives_back_every_connection(engine: AsyncEngine) -> None:
    lanes = [Lane(engine) for _ in range(2)]
    for lane in lanes:
        await use(lane)
    assert checked_out(engine) == 2
    await close_lanes(engine)
    assert checked_out(engine) == 0
    await use(lanes[0])  # a closed lane still works, keeping nothing
    assert not lanes[0].holds
    assert checked_out(engine) == 0
