"""``build_sql_store``: wait for the database, migrate it, and hand out the two SQL adapters."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.errors import Boundary, is_unreachable
from dpr.adapters.sql.job_repository import SqlJobRepository
from dpr.adapters.sql.log_store import SqlJobLogStore
from dpr.adapters.sql.migrate import upgrade_engine

log = logging.getLogger(__name__)


async def build_sql_store(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 10,
    connect_timeout: float = 30.0,
    connect_pause: float = 1.0,
    migrate: bool = True,
) -> tuple[SqlJobRepository, SqlJobLogStore]:
    """The job repository and log store on the database at ``url``, sharing one engine.

    Args:
        url: ``postgresql+psycopg://user:password@host:port/db`` or ``sqlite+aiosqlite:///path``.
        pool_size: connections kept open.
        max_overflow: extra connections allowed under load.
        connect_timeout: how long to wait for the database to accept connections, in seconds.
        connect_pause: the pause between two attempts, in seconds.
        migrate: whether to bring the schema to the newest revision.

    Raises:
        Unavailable: the database did not answer within ``connect_timeout``; the message names
            the host and database, never the password.
    """
    engine = create_sql_engine(
        make_url(url), pool_size=pool_size, max_overflow=max_overflow, connect_timeout=connect_timeout
    )
    repository = SqlJobRepository(engine, connect_timeout=connect_timeout, connect_pause=connect_pause, migrate=migrate)
    try:
        await repository.open()
    except BaseException:
        await engine.dispose()
        raise
    return repository, SqlJobLogStore(engine)


async def prepare(engine: AsyncEngine, *, timeout: float, pause: float, migrate: bool) -> None:
    """Wait for the database behind ``engine``, then migrate it if asked."""
    boundary = Boundary(engine.url)
    await wait_for_database(engine, boundary, timeout=timeout, pause=pause)
    if migrate:
        with boundary:
            await upgrade_engine(engine)


async def wait_for_database(engine: AsyncEngine, boundary: Boundary, *, timeout: float, pause: float) -> None:
    """Return once the database answers ``SELECT 1``; raise ``Unavailable`` after ``timeout``."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempts = 0
    while True:
        attempts += 1
        try:
            async with engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            return
        except Exception as error:
            if not is_unreachable(error):
                raise
            if loop.time() + pause >= deadline:
                prefix = f"gave up after {attempts} attempts in {timeout:g} s to reach"
                raise boundary.unavailable(error, prefix) from boundary.safe_cause(error)
            log.warning("waiting for %s (attempt %d)", boundary.target, attempts)
            await asyncio.sleep(pause)
