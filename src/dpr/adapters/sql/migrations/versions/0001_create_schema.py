"""Create the jobs and job_logs tables.

Revision ID: 0001
Revises:
Create Date: 2026-01-01

Frozen: the types are spelled out here rather than imported from ``tables.py``, so later
changes to the code never rewrite what this revision does.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# timestamptz on PostgreSQL; integer microseconds since the epoch on SQLite.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")
# Byte (code point) order for the keyset, as in Python and SQLite.
JOB_ID = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")
STATUSES = "'accepted', 'running', 'successful', 'failed', 'dismissed'"


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("job_id", JOB_ID, primary_key=True),
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("created", TIMESTAMP, nullable=False),
        sa.Column("updated", TIMESTAMP, nullable=False),
        sa.Column("started", TIMESTAMP),
        sa.Column("finished", TIMESTAMP),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("request", sa.JSON(), nullable=False),
        sa.Column("results", sa.JSON()),
        sa.Column("error", sa.Text()),
        sa.Column("executor_ref", sa.Text()),
        sa.Column("owner", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.CheckConstraint(f"status IN ({STATUSES})", name="ck_jobs_status"),
    )
    op.create_index("ix_jobs_created_job_id", "jobs", [sa.text("created DESC"), sa.text("job_id DESC")])
    op.create_index("ix_jobs_status_process_id", "jobs", ["status", "process_id"])
    op.create_index("ix_jobs_process_id_created", "jobs", ["process_id", "created"])
    op.create_index("ix_jobs_owner_created", "jobs", ["owner", "created"])
    op.create_table(
        "job_logs",
        sa.Column("job_id", JOB_ID, primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("level", sa.Text(), nullable=False),
        sa.Column("line", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("job_logs")
    op.drop_index("ix_jobs_owner_created", table_name="jobs")
    op.drop_index("ix_jobs_process_id_created", table_name="jobs")
    op.drop_index("ix_jobs_status_process_id", table_name="jobs")
    op.drop_index("ix_jobs_created_job_id", table_name="jobs")
    op.drop_table("jobs")
