"""Store each numbered log line once.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03

Workers number each job's events per run (one execution of the job). Lines now keep that
``(run, run_seq)`` beside their place in the job's log, under a unique index with the job id,
so a batch delivered again (an instance re-attaching and replaying what it missed, two instances
following one job) stores nothing twice. Lines stored before, and lines the service writes
itself, have neither and are never taken for one another (NULLs are distinct in a unique index).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("job_logs", sa.Column("run", sa.Text(), nullable=True))
    op.add_column("job_logs", sa.Column("run_seq", sa.Integer(), nullable=True))
    op.create_index("ux_job_logs_run", "job_logs", ["job_id", "run", "run_seq"], unique=True)


def downgrade() -> None:
    op.drop_index("ux_job_logs_run", table_name="job_logs")
    with op.batch_alter_table("job_logs") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("run_seq")
        batch.drop_column("run")
