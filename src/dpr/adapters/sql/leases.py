"""Ownership leases in SQL: each instance's lease row, and the compare-and-set statements that
renew it and take expired ones over (see ``JobRepository.renew_lease`` and ``take_over``)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from dpr.adapters.sql.mapping import row_to_job
from dpr.adapters.sql.tables import instances, jobs
from dpr.adapters.sql.timestamps import UtcDateTime
from dpr.domain.job import Job
from dpr.domain.status import ACTIVE

_ACTIVE = sorted(s.value for s in ACTIVE)
EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)  # a released lease's expiry: long over

RENEW = (
    update(instances)
    .where(instances.c.instance_id == bindparam("me"), instances.c.taken_over_by.is_(None))
    .values(lease_expires=bindparam("until", type_=UtcDateTime))
)

START = insert(instances)

# One compare-and-set per expired lease: of instances running this at once, exactly one sets
# ``taken_over_by`` on each row (the others find it set when they get the row, and skip it).
CLAIM_EXPIRED = (
    update(instances)
    .where(
        instances.c.lease_expires < bindparam("now", type_=UtcDateTime),
        instances.c.taken_over_by.is_(None),
        instances.c.instance_id != bindparam("me"),
    )
    .values(taken_over_by=bindparam("me"))
    .returning(instances.c.instance_id)
)

# Jobs no instance owns (stored before leases existed), in a fixed order, skipping rows another
# claimant holds (PostgreSQL; SQLite has one writer at a time and ignores the clause).
_ORPHANS = (
    select(jobs.c.job_id)
    .where(jobs.c.status.in_(_ACTIVE), jobs.c.owner_instance.is_(None))
    .order_by(jobs.c.job_id)
    .with_for_update(skip_locked=True)
)


async def renew(conn: AsyncConnection, me: str, until: datetime) -> bool:
    """Renew or start ``me``'s lease; False when it was taken over."""
    if (await conn.execute(RENEW, {"me": me, "until": until})).rowcount == 1:
        return True
    try:
        await conn.execute(START, {"instance_id": me, "lease_expires": until, "taken_over_by": None})
    except IntegrityError:
        return False  # the row is there and taken over: the update matched nothing
    return True


async def take_over(conn: AsyncConnection, me: str, now: datetime) -> list[Job]:
    """In one transaction: claim every expired lease, then move their active jobs (and the
    orphans) to ``me``, each with its version one higher."""
    won = list((await conn.execute(CLAIM_EXPIRED, {"me": me, "now": now})).scalars())
    owned_by_expired = jobs.c.owner_instance.in_(won) if won else None
    orphan = jobs.c.owner_instance.is_(None) & jobs.c.job_id.in_(_ORPHANS)
    moved = (
        update(jobs)
        .where(jobs.c.status.in_(_ACTIVE), orphan if owned_by_expired is None else or_(owned_by_expired, orphan))
        .values(owner_instance=me, version=jobs.c.version + 1)
        .returning(*jobs.c)
    )
    rows = (await conn.execute(moved)).all()
    return sorted((row_to_job(row) for row in rows), key=lambda job: (job.created, job.job_id))


async def release(conn: AsyncConnection, me: str) -> None:
    await conn.execute(RENEW, {"me": me, "until": EXPIRED})
