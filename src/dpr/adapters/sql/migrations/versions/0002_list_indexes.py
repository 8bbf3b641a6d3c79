"""Index each job-list filter together with the list's order.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27

The list walks (created DESC, job_id DESC). An index on the filtered column alone
(``status, process_id``) made PostgreSQL fetch and sort every job in a status (a thousand
running jobs: a sort of a thousand rows per page); with the order's columns appended, a page of
one status, process or owner is a plain ordered range scan of ``limit`` entries at any table
size. ``status`` also leads the index the admission and recovery counts use.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

NEWEST_FIRST = [sa.text("created DESC"), sa.text("job_id DESC")]


def upgrade() -> None:
    op.drop_index("ix_jobs_status_process_id", table_name="jobs")
    op.drop_index("ix_jobs_process_id_created", table_name="jobs")
    op.drop_index("ix_jobs_owner_created", table_name="jobs")
    op.create_index("ix_jobs_status_created_job_id", "jobs", ["status", *NEWEST_FIRST])
    op.create_index("ix_jobs_process_id_created_job_id", "jobs", ["process_id", *NEWEST_FIRST])
    op.create_index("ix_jobs_owner_created_job_id", "jobs", ["owner", *NEWEST_FIRST])


def downgrade() -> None:
    op.drop_index("ix_jobs_owner_created_job_id", table_name="jobs")
    op.drop_index("ix_jobs_process_id_created_job_id", table_name="jobs")
    op.drop_index("ix_jobs_status_created_job_id", table_name="jobs")
    op.create_index("ix_jobs_status_process_id", "jobs", ["status", "process_id"])
    op.create_index("ix_jobs_process_id_created", "jobs", ["process_id", "created"])
    op.create_index("ix_jobs_owner_created", "jobs", ["owner", "created"])
