"""A pooled connection kept by one batcher between its statements.

Each batcher of the SQL adapters (new jobs, compare-and-set updates, log lines, point reads,
the active count) has at most one statement in flight, and under load runs one after the
other. Taking a connection from the pool and giving it back around each of them cost more
than the statement itself on the Python side: SQLAlchemy's checkout and check-in with their
events, the autocommit switch on and off, the reset, a greenlet hand-off each way (about a
tenth of the server's CPU under async submission). A ``Lane`` keeps its connection while its
batcher is busy and gives it back to the pool once it was idle for ``hold`` seconds, so a
service at rest holds no more connections than before and a connection that sat idle is
pinged by the pool (``engine.py``) before it is used again.

Whoever disposes of an engine closes its lanes first (``close_lanes``): the repository, which
owns the engine, and the container. Each statement on a lane is its own transaction
(autocommit), as the adapters' single statements are.

A lane keeps its connection only while the pool has another one idle: with a pool of one,
or a pool every other request uses, it gives its connection back after each statement as a
plain checkout does.

A caller that finds the lane busy (a second writer outside the batcher) gets a connection of
its own from the pool, as before: a lane never serializes callers. A statement that fails
closes the lane's connection (the pool resets it, or drops it if broken); the next use takes
another.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from types import TracebackType
from typing import Any

from sqlalchemy.engine import Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dpr.adapters.sql.engine import IDLE_SINCE

HOLD_SECONDS = 1.0
"""How long an idle lane keeps its connection: under the pool's ping delay (2 s), so a
connection idle that long is pinged on its next checkout as any pooled one is."""


class Lane:
    """One connection of ``engine``'s pool, kept between uses while they follow each other.

    Use it as ``async with lane() as conn``; ``await lane.driver(conn)`` is the psycopg
    connection under ``conn`` (kept with the lane's connection, so fetched once per checkout).
    """

    __slots__ = (
        "__weakref__",
        "_closing",
        "_conn",
        "_driver",
        "_engine",
        "_hold",
        "_last",
        "_releases",
        "_timer",
        "busy",
    )

    def __init__(self, engine: AsyncEngine, *, hold: float = HOLD_SECONDS) -> None:
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._hold = hold
        self._conn: AsyncConnection | None = None
        self._driver: Any = None
        self._last = 0.0
        self._timer: asyncio.TimerHandle | None = None
        self._releases: set[asyncio.Task[None]] = set()
        self._closing = False
        self.busy = False  # a caller uses the lane's connection now
        _LANES.setdefault(engine.sync_engine, weakref.WeakSet()).add(self)

    def __call__(self) -> _Use:
        return _Use(self)

    async def driver(self, conn: AsyncConnection) -> Any:
        """The driver's connection under ``conn``."""
        if conn is self._conn:
            if self._driver is None:
                self._driver = (await conn.get_raw_connection()).driver_connection
            return self._driver
        return await driver_of(conn)

    @property
    def holds(self) -> bool:
        """Whether the lane keeps a connection now (for tests)."""
        return self._conn is not None

    async def close(self) -> None:
        """Give the connection back now and keep none from here on."""
        self._closing = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        conn = self._take()
        if conn is not None:
            await conn.close()
        if self._releases:
            await asyncio.wait(self._releases)

    async def _checkout(self) -> AsyncConnection:
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            self._driver = None
            conn = self._conn = await self._engine.connect()
        return conn

    def _done(self, failed: bool) -> AsyncConnection | None:
        """The lane is free again; a connection to give back now if its statement failed, or
        if the pool has no other connection left for the rest of the service."""
        self.busy = False
        if failed or self._closing or not self._spare():
            return self._take()
        self._last = time.monotonic()
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self._hold, self._expire)
        return None

    def _expire(self) -> None:
        self._timer = None
        if self._conn is None:
            return
        loop = asyncio.get_running_loop()
        idle = time.monotonic() - self._last
        if self.busy or idle < self._hold:
            self._timer = loop.call_later(self._hold - idle if not self.busy else self._hold, self._expire)
            return
        conn = self._take()
        if conn is not None:
            # Idle since its last use, not since it goes back: the pool pings it on time.
            conn.info[IDLE_SINCE] = self._last
            task = loop.create_task(conn.close(), name="dpr-sql-lane-release")
            self._releases.add(task)
            task.add_done_callback(self._releases.discard)

    def _spare(self) -> bool:
        """Whether the pool still has a connection idle besides the lane's (a pool without
        spare connections gets the lane's back at once: a lane never makes a request wait)."""
        pool: Any = self._engine.sync_engine.pool
        try:
            return bool(pool.checkedout() < pool.size())
        except AttributeError:  # a pool without a size (NullPool, StaticPool): nothing to share
            return True

    def _take(self) -> AsyncConnection | None:
        conn, self._conn, self._driver = self._conn, None, None
        return conn


_LANES: weakref.WeakKeyDictionary[Engine, weakref.WeakSet[Lane]] = weakref.WeakKeyDictionary()


async def close_lanes(engine: AsyncEngine) -> None:
    """Close every lane of ``engine`` (before disposing of it: a connection a lane keeps is
    checked out, and ``dispose`` closes only the connections in the pool)."""
    for lane in list(_LANES.get(engine.sync_engine, ())):
        await lane.close()


class _Use:
    """One use of a lane: its connection, or one of the caller's own when it is busy."""

    __slots__ = ("_lane", "_own")

    def __init__(self, lane: Lane) -> None:
        self._lane = lane
        self._own: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        lane = self._lane
        if lane.busy or lane._closing:
            self._own = await lane._engine.connect()
            return self._own
        lane.busy = True
        try:
            return await lane._checkout()
        except BaseException:
            lane.busy = False
            raise

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._own is not None:
            await self._own.close()
            return
        failed = self._lane._done(error is not None)
        if failed is not None:
            await failed.close()


async def driver_of(conn: AsyncConnection) -> Any:
    """The driver's connection under a pooled connection."""
    return (await conn.get_raw_connection()).driver_connection
