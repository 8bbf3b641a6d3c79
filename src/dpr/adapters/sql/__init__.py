"""The SQL adapters of the job repository and log store (PostgreSQL and SQLite).

The container builds both on one engine; opening the repository waits for the database and
migrates it, closing it disposes of the engine.

The names are loaded when first used: reading a PostgreSQL URL from settings (``engine``) must
not import the repositories and Alembic, which take a second or more.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpr.adapters.sql.engine import url_from_postgres_env
    from dpr.adapters.sql.job_repository import SqlJobRepository
    from dpr.adapters.sql.log_store import SqlJobLogStore
    from dpr.adapters.sql.migrate import upgrade, upgrade_url

_WHERE = {
    "SqlJobLogStore": "log_store",
    "SqlJobRepository": "job_repository",
    "upgrade": "migrate",
    "upgrade_url": "migrate",
    "url_from_postgres_env": "engine",
}

__all__ = [
    "SqlJobLogStore",
    "SqlJobRepository",
    "upgrade",
    "upgrade_url",
    "url_from_postgres_env",
]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
