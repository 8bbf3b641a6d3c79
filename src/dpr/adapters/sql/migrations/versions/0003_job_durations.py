"""Store each ended job's duration, so duration filters use an index.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

``minDuration`` was computed per row as ``coalesce(finished, now) - started``: no index could
serve it, so a selective filter walked the newest-first index until it had a page (about
40,000 entries per page at 10^6 jobs, 0.2 s). Ended jobs now carry ``duration_us``
(``finished - started`` in microseconds, indexed); running jobs, whose duration grows with the
clock, are found by ``started`` in a partial index of the jobs still running. Existing rows are
filled in by the upgrade (one UPDATE of the ended jobs).

On PostgreSQL the column keeps a finer histogram (statistics target 1000): durations have a
long tail, and with the default 100 buckets the planner overestimated a filter such as
``minDuration=3600`` (0.25% of the jobs) threefold, walked the newest-first index instead of
the duration index, and took 35 ms instead of 0.6 ms at 10^5 jobs.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

RUNNING = "finished IS NULL AND started IS NOT NULL"


def upgrade() -> None:
    op.add_column("jobs", sa.Column("duration_us", sa.BigInteger(), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        duration = "finished - started"  # integer microseconds already
    else:
        duration = "CAST(round(EXTRACT(EPOCH FROM finished - started) * 1000000) AS BIGINT)"
        op.execute("ALTER TABLE jobs ALTER COLUMN duration_us SET STATISTICS 1000")
    op.execute(f"UPDATE jobs SET duration_us = {duration} WHERE finished IS NOT NULL AND started IS NOT NULL")
    op.create_index("ix_jobs_duration_us", "jobs", ["duration_us"])
    op.create_index(
        "ix_jobs_running_started",
        "jobs",
        ["started"],
        postgresql_where=sa.text(RUNNING),
        sqlite_where=sa.text(RUNNING),
    )
    if op.get_bind().dialect.name != "sqlite":
        op.execute("ANALYZE jobs")  # the planner should know the new column before the first list


def downgrade() -> None:
    op.drop_index("ix_jobs_running_started", table_name="jobs")
    op.drop_index("ix_jobs_duration_us", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("duration_us")
