"""The SQL adapters of the job repository and log store (PostgreSQL and SQLite).

``build_sql_store(url)`` is the one way in: it returns both adapters on one prepared engine.
"""

from dpr.adapters.sql.engine import url_from_postgres_env
from dpr.adapters.sql.job_repository import SqlJobRepository
from dpr.adapters.sql.log_store import SqlJobLogStore
from dpr.adapters.sql.migrate import upgrade, upgrade_url
from dpr.adapters.sql.store import build_sql_store

__all__ = [
    "SqlJobLogStore",
    "SqlJobRepository",
    "build_sql_store",
    "upgrade",
    "upgrade_url",
    "url_from_postgres_env",
]
