"""The SQL schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` must build the same."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Integer, MetaData, Table, Text
from sqlalchemy.dialects import postgresql

from dpr.adapters.sql.timestamps import UtcDateTime
from dpr.domain.status import JobStatus

metadata = MetaData()

# Python orders strings by code point; PostgreSQL's default collation does not (it is locale
# aware), so the keyset order would differ between adapters. "C" compares bytes, which for UTF-8
# is code point order, as SQLite's default BINARY collation already does.
JobId = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

# none_as_null: a job without results has SQL NULL there, not the JSON document `null`.
Document = JSON(none_as_null=True)

STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)

jobs = Table(
    "jobs",
    metadata,
    Column("job_id", JobId, primary_key=True),
    Column("process_id", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("updated", UtcDateTime, nullable=False),
    Column("started", UtcDateTime),
    Column("finished", UtcDateTime),
    Column("progress", Integer, nullable=False),
    Column("message", Text, nullable=False),
    Column("request", Document, nullable=False),
    Column("results", Document),
    Column("error", Text),
    Column("executor_ref", Text),
    Column("owner", Text),
    Column("version", Integer, nullable=False),
    # Not a field of Job: ``finished - started`` in microseconds once a started job has ended
    # (written with every row), so duration filters can use an index (migration 0003).
    Column("duration_us", BigInteger),
    CheckConstraint(f"status IN ({STATUSES})", name="ck_jobs_status"),
)

# The job list walks (created DESC, job_id DESC). Each filter's index ends with the same order,
# so a page of one status, process or owner is an ordered range scan of ``limit`` entries,
# whatever the table's size (migration 0002).
Index("ix_jobs_created_job_id", jobs.c.created.desc(), jobs.c.job_id.desc())
Index("ix_jobs_status_created_job_id", jobs.c.status, jobs.c.created.desc(), jobs.c.job_id.desc())
Index("ix_jobs_process_id_created_job_id", jobs.c.process_id, jobs.c.created.desc(), jobs.c.job_id.desc())
Index("ix_jobs_owner_created_job_id", jobs.c.owner, jobs.c.created.desc(), jobs.c.job_id.desc())
# Duration filters: ended jobs by their stored duration; running ones (few, and their duration
# grows with the clock) by when they started.
Index("ix_jobs_duration_us", jobs.c.duration_us)
RUNNING_SINCE = jobs.c.finished.is_(None) & jobs.c.started.is_not(None)
Index("ix_jobs_running_started", jobs.c.started, postgresql_where=RUNNING_SINCE, sqlite_where=RUNNING_SINCE)

# No foreign key to jobs: the log store is its own port, and lines may arrive for a job whose
# record another process has not committed yet.
job_logs = Table(
    "job_logs",
    metadata,
    Column("job_id", JobId, primary_key=True),
    Column("seq", Integer, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("level", Text, nullable=False),
    Column("line", Text, nullable=False),
)

# API keys (migration 0005_api_keys): only the SHA-256 digest of a key is stored, unique, so a
# request finds its key with one index lookup.
api_keys = Table(
    "api_keys",
    metadata,
    Column("key_id", Text, primary_key=True),
    Column("digest", Text, nullable=False, unique=True),
    Column("owner", Text, nullable=False),
    Column("roles", JSON, nullable=False),
    Column("created", UtcDateTime, nullable=False),
    Column("expires", UtcDateTime),
    Column("revoked", UtcDateTime),
)
