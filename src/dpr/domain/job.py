"""The job: one execution of a process, and the rules for how it changes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import msgspec
from msgspec.structs import replace

from dpr.domain.errors import InvalidTransition
from dpr.domain.events import AnyEvent, Failed, Logged, Progressed, Started, Succeeded
from dpr.domain.execute import ExecuteRequest
from dpr.domain.status import JobStatus, can_move


class Job(msgspec.Struct, frozen=True, kw_only=True):
    """A job record. Every change returns a new Job with ``version`` one higher.

    Timestamps are timezone-aware UTC and never go backwards: ``created`` when accepted,
    ``started`` when computing begins, ``finished`` when it ends, ``updated`` on every change.
    """

    job_id: str
    process_id: str
    status: JobStatus = JobStatus.ACCEPTED
    created: datetime
    updated: datetime
    started: datetime | None = None
    finished: datetime | None = None
    progress: int = 0
    message: str = "Accepted: waiting for a worker."
    request: ExecuteRequest = msgspec.field(default_factory=ExecuteRequest)
    results: dict[str, Any] | None = None
    error: str | None = None
    executor_ref: str | None = None
    owner: str | None = None
    owner_instance: str | None = None  # the service instance that follows the active job (its lease)
    version: int = 1

    @classmethod
    def accept(
        cls, *, job_id: str, process_id: str, request: ExecuteRequest, now: datetime, owner: str | None = None
    ) -> Job:
        """A new job in status ``accepted``."""
        return cls(job_id=job_id, process_id=process_id, request=request, created=now, updated=now, owner=owner)

    @property
    def is_terminal(self) -> bool:
        return self.status.is_terminal

    def duration(self, now: datetime) -> timedelta | None:
        """Time spent computing: from ``started`` to ``finished``, or to ``now`` while running."""
        if self.started is None:
            return None
        return (self.finished or now) - self.started

    def start(self, now: datetime, message: str = "Running.") -> Job:
        return self._move(JobStatus.RUNNING, now, started=self._at(now), message=message)

    def report(self, now: datetime, progress: int | None = None, message: str | None = None) -> Job:
        """Record progress (clamped to 0..100, never decreasing) and/or a message while running."""
        job = self.start(now) if self.status is JobStatus.ACCEPTED else self
        if job.status is not JobStatus.RUNNING:
            raise InvalidTransition(self.job_id, self.status, JobStatus.RUNNING)
        new_progress = job.progress if progress is None else max(job.progress, min(100, max(0, int(progress))))
        return replace(
            job,
            progress=new_progress,
            message=job.message if message is None else message,
            updated=job._at(now),
            version=job.version + 1,
        )

    def succeed(self, now: datetime, results: dict[str, Any], message: str = "Finished successfully.") -> Job:
        job = self.start(now) if self.status is JobStatus.ACCEPTED else self
        return job._move(
            JobStatus.SUCCESSFUL, now, finished=job._at(now), results=results, progress=100, message=message
        )

    def fail(self, now: datetime, error: str) -> Job:
        return self._move(JobStatus.FAILED, now, finished=self._at(now), error=error, message=f"Failed: {error}")

    def dismiss(self, now: datetime, message: str = "Dismissed by request.") -> Job:
        return self._move(JobStatus.DISMISSED, now, finished=self._at(now), message=message)

    def apply(self, event: AnyEvent) -> Job:
        """The job after an executor event, or ``self`` when the event changes nothing.

        Events about a finished job are ignored: a late "succeeded" never overwrites "dismissed".
        Log lines do not change the record (they go to the log store).
        """
        if self.is_terminal or isinstance(event, Logged):
            return self
        if isinstance(event, Started):
            return self if self.status is JobStatus.RUNNING else self.start(event.at)
        if isinstance(event, Progressed):
            return self.report(event.at, event.progress, event.message)
        if isinstance(event, Succeeded):
            return self.succeed(event.at, event.outputs)
        if isinstance(event, Failed):
            return self.fail(event.at, event.error)
        raise TypeError(f"unknown event {event!r}")

    def _at(self, now: datetime) -> datetime:
        """``now``, unless that would move time backwards for this job."""
        return max(now, self.updated)

    def _move(self, target: JobStatus, now: datetime, **changes: Any) -> Job:
        if not can_move(self.status, target):
            raise InvalidTransition(self.job_id, self.status, target)
        return replace(self, status=target, updated=self._at(now), version=self.version + 1, **changes)
