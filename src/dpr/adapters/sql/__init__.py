"""The SQL adapters of the job repository and log store (PostgreSQL and SQLite).

The container builds both on one engine; opening the repository waits for the database and
migrates it, closing it disposes of the engine.
"""

from dpr.adapters.sql.engine import url_from_postgres_env
from dpr.adapters.sql.job_repository import SqlJobRepository
from dpr.adapters.sql.log_store import SqlJobLogStore
from dpr.adapters.sql.migrate import upgrade, upgrade_url

__all__ = [
    "SqlJobLogStore",
    "SqlJobRepository",
    "upgrade",
    "upgrade_url",
    "url_from_postgres_env",
]
