"""The SQL schema, as SQLAlchemy Core tables. Migrations in ``migrations/`` must build the same."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, CheckConstraint, Column, Index, Integer, MetaData, Table, Text, text
from sqlalchemy.dialects import postgresql

from dpr.adapters.sql.timestamps import UtcDateTime
from dpr.domain.status import ACTIVE, JobStatus

metadata = MetaData()

# Python orders strings by code point; PostgreSQL's default collation does not (it is locale
# aware), so the keyset order would differ between adapters. "C" compares bytes, which for UTF-8
# is code point order, as SQLite's default BINARY collation already does.
JobId = Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

# none_as_null: a job without results has SQL NULL there, not the JSON document `null`.
Document = JSON(none_as_null=True)

STATUSES = ", ".join(f"'{status.value}'" for status in JobStatus)
ACTIVE_STATUSES = ", ".join(f"'{status.value}'" for status in sorted(ACTIVE))

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
    # The service instance that follows the job while it is active (migration 0005); its lease
    # is in ``instances``.
    Column("owner_instance", Text),
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
ACTIVE_ONLY = text(f"status IN ({ACTIVE_STATUSES})")
Index("ix_jobs_running_started", jobs.c.started, postgresql_where=RUNNING_SINCE, sqlite_where=RUNNING_SINCE)

Index("ix_jobs_owner_instance", jobs.c.owner_instance, postgresql_where=ACTIVE_ONLY, sqlite_where=ACTIVE_ONLY)

# The active jobs and nothing else, kept by triggers on ``jobs`` (migration 0007; tables cannot
# declare triggers): admission and health checks count them here, handling only the active rows,
# instead of in ``jobs``, whose status index holds an entry per row version since the last vacuum.
active_jobs = Table(
    "active_jobs",
    metadata,
    Column("job_id", JobId, primary_key=True),
    Column("process_id", Text, nullable=False),
    Column("owner", Text),
)

# One row per service instance: its lease, renewed by its heartbeat. An instance whose lease
# expired is taken over by one other instance (``taken_over_by``, set by compare-and-set), which
# then owns its active jobs (migration 0005).
instances = Table(
    "instances",
    metadata,
    Column("instance_id", Text, primary_key=True),
    Column("lease_expires", UtcDateTime, nullable=False),
    Column("taken_over_by", Text),
)

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
    # Where a numbered line came from: one execution of the job and the line's number in it. A
    # line delivered twice (a replay after re-attaching) is stored once (migration 0004).
    Column("run", Text),
    Column("run_seq", Integer),
)
Index("ux_job_logs_run", job_logs.c.job_id, job_logs.c.run, job_logs.c.run_seq, unique=True)

# API keys (migration 0006): only the SHA-256 digest of a key is stored, unique, so a
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
