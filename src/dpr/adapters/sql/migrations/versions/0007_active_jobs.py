"""The active jobs in a table of their own, kept by triggers, so counting them stays cheap.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03

Admission (every submission) and the health checks count the active jobs. Counted in ``jobs``,
that read grew with every job since the last vacuum: each move (accepted, running, ended)
changes the indexed ``status``, leaving index entries with an active status for dead row
versions, and PostgreSQL's bitmap index scan never marks them dead (40 ms after 76,000 jobs
with autovacuum off, for no active job). ``active_jobs`` holds one row per active job (its id,
process and owner, which never change) and nothing else, read by a sequential scan that prunes
the dead row versions of each page it reads: the plan handles only the active rows. Without a
vacuum its pages still grow, by about one per 200 jobs (a pruned page's space is reused only
after VACUUM records it): 98 pages, 0.07 ms after 20,000 jobs, against 1.8 ms in ``jobs``.
A vacuum of this small table takes milliseconds, and autovacuum runs one at every round.

Triggers on ``jobs`` keep it, so every write path (array statements, compare-and-set updates,
take-over, deletes) stays exact without knowing of it: a job inserted or moved into an active
status is added, one moved out of them or deleted is removed. On SQLite, a later migration that
rebuilds ``jobs`` (``batch_alter_table``) drops its triggers and must create them again.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

ACTIVE = "('accepted', 'running')"
# Frozen as 0001 spelled jobs.job_id: byte order on PostgreSQL.
JOB_ID = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

ADD = "INSERT INTO active_jobs (job_id, process_id, owner) VALUES (NEW.job_id, NEW.process_id, NEW.owner)"
REMOVE = "DELETE FROM active_jobs WHERE job_id = OLD.job_id"
# (name, event, condition, statement): each trigger runs only when a job's activity changes.
TRIGGERS = [
    ("jobs_active_insert", "INSERT", f"NEW.status IN {ACTIVE}", ADD),
    ("jobs_active_start", "UPDATE", f"NEW.status IN {ACTIVE} AND OLD.status NOT IN {ACTIVE}", ADD),
    ("jobs_active_end", "UPDATE", f"OLD.status IN {ACTIVE} AND NEW.status NOT IN {ACTIVE}", REMOVE),
    ("jobs_active_delete", "DELETE", f"OLD.status IN {ACTIVE}", REMOVE),
]


def upgrade() -> None:
    op.create_table(
        "active_jobs",
        sa.Column("job_id", JOB_ID, primary_key=True),
        sa.Column("process_id", sa.Text(), nullable=False),
        sa.Column("owner", sa.Text()),
    )
    sqlite = op.get_bind().dialect.name == "sqlite"
    for name, event, condition, statement in TRIGGERS:
        if sqlite:
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON jobs FOR EACH ROW WHEN {condition} BEGIN {statement}; END"
            )
        else:
            body = f"BEGIN {statement}; RETURN NULL; END"
            op.execute(f"CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$ {body} $$")
            op.execute(
                f"CREATE TRIGGER {name} AFTER {event} ON jobs FOR EACH ROW WHEN ({condition}) EXECUTE FUNCTION {name}()"
            )
    if not sqlite:  # TRUNCATE has no rows (SQLite has no TRUNCATE)
        op.execute(
            "CREATE FUNCTION jobs_active_truncate() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN DELETE FROM active_jobs; RETURN NULL; END $$"
        )
        op.execute("CREATE TRIGGER jobs_active_truncate AFTER TRUNCATE ON jobs EXECUTE FUNCTION jobs_active_truncate()")
    op.execute(f"INSERT INTO active_jobs SELECT job_id, process_id, owner FROM jobs WHERE status IN {ACTIVE}")


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    names = [name for name, *_ in TRIGGERS] + ([] if sqlite else ["jobs_active_truncate"])
    for name in names:
        op.execute(f"DROP TRIGGER {name}" if sqlite else f"DROP TRIGGER {name} ON jobs")
        if not sqlite:
            op.execute(f"DROP FUNCTION {name}()")
    op.drop_table("active_jobs")
