"""Job-list queries (the standard's job-list filters) and keyset pages over them."""

from __future__ import annotations

import base64
import binascii
from datetime import datetime, timedelta

import msgspec

from dpr.domain.errors import InvalidParameter
from dpr.domain.job import Job
from dpr.domain.status import JobStatus

DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


class Cursor(msgspec.Struct, frozen=True, array_like=True):
    """A position in the job order (newest first): the last job of the previous page."""

    created: datetime
    job_id: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(msgspec.json.encode(self)).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises ``InvalidParameter`` when the token was not made by ``encode``."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            cursor = msgspec.json.decode(raw, type=cls)
        except (binascii.Error, ValueError, msgspec.DecodeError):
            raise InvalidParameter("cursor", "is not a cursor this server issued") from None
        if cursor.created.tzinfo is None:  # the server only issues UTC cursors
            raise InvalidParameter("cursor", "is not a cursor this server issued")
        return cursor

    @classmethod
    def after(cls, job: Job) -> Cursor:
        return cls(created=job.created, job_id=job.job_id)


class JobQuery(msgspec.Struct, frozen=True, kw_only=True):
    """Which jobs to list. Empty filters match everything.

    Jobs come newest first (``created`` then ``job_id``, both descending), a total order that
    keyset paging relies on. ``now`` is the instant durations of running jobs are measured to.
    """

    now: datetime
    statuses: frozenset[JobStatus] = frozenset()
    process_ids: frozenset[str] = frozenset()
    created_from: datetime | None = None
    created_to: datetime | None = None
    min_duration: timedelta | None = None
    max_duration: timedelta | None = None
    owner: str | None = None
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None
    count: bool = False

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_LIMIT:
            raise InvalidParameter("limit", f"must be between 1 and {MAX_LIMIT}")

    def matches(self, job: Job) -> bool:
        """Whether ``job`` passes every filter (paging aside): the reference semantics."""
        if self.statuses and job.status not in self.statuses:
            return False
        if self.process_ids and job.process_id not in self.process_ids:
            return False
        if self.owner is not None and job.owner != self.owner:
            return False
        if self.created_from is not None and job.created < self.created_from:
            return False
        if self.created_to is not None and job.created > self.created_to:
            return False
        return self._duration_ok(job)

    def _duration_ok(self, job: Job) -> bool:
        if self.min_duration is None and self.max_duration is None:
            return True
        duration = job.duration(self.now)
        if duration is None:
            return False
        if self.min_duration is not None and duration < self.min_duration:
            return False
        return self.max_duration is None or duration <= self.max_duration

    def is_after_cursor(self, job: Job) -> bool:
        if self.after is None:
            return True
        return (job.created, job.job_id) < (self.after.created, self.after.job_id)


def order_key(job: Job) -> tuple[datetime, str]:
    """Sort key of the job order; sort with ``reverse=True`` for newest first."""
    return (job.created, job.job_id)


class JobPage(msgspec.Struct, frozen=True, kw_only=True):
    """One page of a job list."""

    jobs: list[Job]
    next: Cursor | None = None
    number_matched: int | None = None
