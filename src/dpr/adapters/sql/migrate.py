"""Alembic migrations, configured in code: no alembic.ini is needed at run time.

Alembic is imported only when a migration runs: a start on a database already at the newest
revision (every restart) finds that out with one query and never loads it (about 0.3 s of CPU).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, text
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dpr.adapters.sql.engine import create_sql_engine

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest revision in MIGRATIONS; a test checks it is Alembic's head (change it with each new one).
HEAD_REVISION = "0007"
# Where Alembic keeps the revision a database is at (its defaults).
VERSION_TABLE = "alembic_version"
# Any fixed number: concurrent servers starting on one PostgreSQL database take turns.
ADVISORY_LOCK = 0x0D9D_0001


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at the packaged migrations.

    ``env.py`` runs on ``connection`` (in ``config.attributes``), inside its transaction.
    """
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision the packaged migrations know, as Alembic finds it."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration revision in {MIGRATIONS}")
    return head


async def upgrade_engine(engine: AsyncEngine, revision: str = "head") -> None:
    """Bring the schema to ``revision`` in one transaction (one at a time on PostgreSQL).

    A database already at the head is left as is without importing Alembic.
    """
    if revision in ("head", HEAD_REVISION):
        async with engine.connect() as conn:
            if await stored_revisions(conn) == [HEAD_REVISION]:
                return
    async with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADVISORY_LOCK})
        await conn.run_sync(_upgrade, revision)


async def stored_revisions(conn: AsyncConnection) -> list[str]:
    """The revisions Alembic recorded in the database (one on dpr's single line of migrations;
    none for a database dpr never migrated), read without Alembic."""
    if not await conn.run_sync(lambda sync: sync.dialect.has_table(sync, VERSION_TABLE)):
        return []
    rows = await conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}"))
    return sorted(rows.scalars())


async def downgrade_engine(engine: AsyncEngine, revision: str) -> None:
    from alembic import command

    async with engine.begin() as conn:
        await conn.run_sync(lambda sync: command.downgrade(alembic_config(sync), revision))


async def current_revision(engine: AsyncEngine) -> str | None:
    """The revision the database is at, or None for a database dpr never migrated (as Alembic reads it)."""
    from alembic.runtime.migration import MigrationContext

    async with engine.connect() as conn:
        return await conn.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())


async def upgrade_url(url: str | URL, revision: str = "head") -> None:
    engine = create_sql_engine(url, pool_size=1, max_overflow=0)
    try:
        await upgrade_engine(engine, revision)
    finally:
        await engine.dispose()


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` to ``revision``: for ``dpr db upgrade`` and scripts.

    Runs its own event loop, so call it where no loop is running (use ``upgrade_url`` there).
    """
    asyncio.run(upgrade_url(url, revision))


def _upgrade(connection: Connection, revision: str) -> None:
    from alembic import command

    command.upgrade(alembic_config(connection), revision)
