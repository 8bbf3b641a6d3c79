"""Ownership leases: each active job is followed by one service instance.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03

Several instances share one database. Each holds a lease in ``instances`` (renewed by its
heartbeat) and owns the active jobs whose ``owner_instance`` names it. When a lease expires,
one other instance takes it over by compare-and-set (``taken_over_by``), and its active jobs
with it. Jobs stored before have no owner: the first instance to claim them owns them.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

ACTIVE = "status IN ('accepted', 'running')"
# Frozen as 0001 spelled it: timestamptz, integer microseconds on SQLite.
TIMESTAMP = sa.DateTime(timezone=True).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.add_column("jobs", sa.Column("owner_instance", sa.Text(), nullable=True))
    op.create_index(
        "ix_jobs_owner_instance",
        "jobs",
        ["owner_instance"],
        postgresql_where=sa.text(ACTIVE),
        sqlite_where=sa.text(ACTIVE),
    )
    op.create_table(
        "instances",
        sa.Column("instance_id", sa.Text(), primary_key=True),
        sa.Column("lease_expires", TIMESTAMP, nullable=False),
        sa.Column("taken_over_by", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("instances")
    op.drop_index("ix_jobs_owner_instance", table_name="jobs")
    with op.batch_alter_table("jobs") as batch:  # SQLite rebuilds the table to drop a column
        batch.drop_column("owner_instance")
