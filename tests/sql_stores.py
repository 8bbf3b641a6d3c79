"""The SQL repository and log store built from their constructors, for the tests that need
them without a server (the container builds them the same way from ``storage`` settings)."""

from __future__ import annotations

from sqlalchemy.engine import make_url

from dpr.adapters.sql import SqlJobLogStore, SqlJobRepository
from dpr.adapters.sql.engine import create_sql_engine


async def open_sql_store(
    url: str,
    *,
    pool_size: int = 10,
    max_overflow: int = 0,
    connect_timeout: float = 30.0,
    connect_pause: float = 1.0,
    migrate: bool = True,
) -> tuple[SqlJobRepository, SqlJobLogStore]:
    """Both adapters on one engine, the repository open: the database waited for (up to
    ``connect_timeout``, else ``Unavailable``) and, with ``migrate``, brought to the newest
    revision. Closing the repository disposes of the engine."""
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
