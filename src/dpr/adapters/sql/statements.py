"""The statements every request runs, built once with named parameters.

Building a statement per call (``insert(jobs).values(row)``) makes SQLAlchemy construct it and
compute its cache key each time; a prebuilt one with bound parameters skips both, and psycopg
then runs it as a server-side prepared statement.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Text, bindparam, func, insert, literal, or_, select, update

from dpr.adapters.sql.mapping import job_to_row
from dpr.adapters.sql.tables import active_jobs, job_logs, jobs
from dpr.adapters.sql.timestamps import UtcDateTime
from dpr.domain.job import Job
from dpr.domain.status import ACTIVE, TERMINAL

_ACTIVE = sorted(s.value for s in ACTIVE)
_TERMINAL = sorted(s.value for s in TERMINAL)

INSERT_JOB = insert(jobs)

GET_JOB = select(jobs).where(jobs.c.job_id == bindparam("job_id"))

# Several jobs by id in one statement (reads batched under load): PostgreSQL takes the ids as
# one array parameter, so one prepared statement serves every batch size; SQLite expands them.
GET_JOBS_ANY = select(jobs).where(jobs.c.job_id == func.any(bindparam("ids")))
GET_JOBS_IN = select(jobs).where(jobs.c.job_id.in_(bindparam("ids", expanding=True)))

GET_VERSION = select(jobs.c.version, jobs.c.status).where(jobs.c.job_id == bindparam("job_id"))

# Compare-and-set: only over the version read, and a terminal job keeps its status whatever a
# late writer says. The WHERE parameters are prefixed: bare column names set the columns.
UPDATE_JOB = (
    update(jobs)
    .where(jobs.c.job_id == bindparam("where_job_id"), jobs.c.version == bindparam("where_version"))
    # Terminal statuses as plain literals, not an expanding list: it also runs as executemany.
    .where(or_(jobs.c.status.not_in([literal(s) for s in _TERMINAL]), jobs.c.status == bindparam("where_status")))
)

# Every submission and health check counts the active jobs: in ``active_jobs`` (kept by
# triggers on ``jobs``, migration 0007), whose scan handles only the active rows however many
# jobs ended since the last vacuum, not in ``jobs``, whose status index keeps every row version.
COUNT_ACTIVE = select(func.count()).select_from(active_jobs)
COUNT_ACTIVE_OF = {
    (False, False): COUNT_ACTIVE,
    (True, False): COUNT_ACTIVE.where(active_jobs.c.process_id == bindparam("process_id")),
    (False, True): COUNT_ACTIVE.where(active_jobs.c.owner == bindparam("owner")),
    (True, True): COUNT_ACTIVE.where(
        active_jobs.c.process_id == bindparam("process_id"), active_jobs.c.owner == bindparam("owner")
    ),
}

# What admission reads (one statement for every limit).
ACTIVE_COUNTS = select(active_jobs.c.process_id, active_jobs.c.owner, func.count().label("n")).group_by(
    active_jobs.c.process_id, active_jobs.c.owner
)

# Recovery needs whole rows: it runs once per start, in ``jobs``.
LIST_ACTIVE = select(jobs).where(jobs.c.status.in_(_ACTIVE)).order_by(jobs.c.created, jobs.c.job_id)

# ``INSERT INTO job_logs SELECT :job_id, coalesce(max(seq), -1) + 1, ... RETURNING seq``.
APPEND_LOG = (
    insert(job_logs)
    .from_select(
        ["job_id", "seq", "at", "level", "line"],
        select(
            bindparam("job_id", type_=job_logs.c.job_id.type),
            func.coalesce(func.max(job_logs.c.seq), -1) + 1,
            bindparam("at", type_=UtcDateTime),
            bindparam("level", type_=Text),
            bindparam("line", type_=Text),
        ).where(job_logs.c.job_id == bindparam("job_id")),
    )
    .returning(job_logs.c.seq)
)

# The last line number of each of several jobs' logs (jobs without lines are absent).
LAST_SEQS = (
    select(job_logs.c.job_id, func.max(job_logs.c.seq))
    .where(job_logs.c.job_id.in_(bindparam("job_ids", expanding=True)))
    .group_by(job_logs.c.job_id)
)

INSERT_LOGS = insert(job_logs)

# The numbered lines some jobs' logs already have, of some runs.
STORED_RUN_LINES = select(job_logs.c.job_id, job_logs.c.run, job_logs.c.run_seq).where(
    job_logs.c.job_id.in_(bindparam("job_ids", expanding=True)),
    job_logs.c.run.in_(bindparam("runs", expanding=True)),
)

READ_LOG = (
    select(job_logs)
    .where(job_logs.c.job_id == bindparam("job_id"), job_logs.c.seq > bindparam("after", type_=BigInteger))
    .order_by(job_logs.c.seq)
    .limit(bindparam("limit", type_=BigInteger))
)


def update_parameters(job: Job, expected_version: int) -> dict[str, Any]:
    """The parameters of ``UPDATE_JOB`` that store ``job`` over version ``expected_version``."""
    values = job_to_row(job)
    del values["job_id"]
    return {**values, "where_job_id": job.job_id, "where_version": expected_version, "where_status": job.status.value}
