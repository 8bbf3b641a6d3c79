"""Preparing the database behind an engine: wait until it answers, then migrate it if asked."""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.errors import Boundary, is_unreachable
from dpr.adapters.sql.migrate import upgrade_engine

log = logging.getLogger(__name__)


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
