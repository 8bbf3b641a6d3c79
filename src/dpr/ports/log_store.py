"""Where job log lines are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

import msgspec


class LogRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a job's log; ``seq`` counts from 0 per job."""

    job_id: str
    seq: int
    at: datetime
    level: str
    line: str


class LogLine(msgspec.Struct, frozen=True, kw_only=True):
    """A line to append to a job's log (it gets its ``seq`` when stored).

    ``run`` and ``run_seq`` say where it came from when its sender numbers lines (an execution
    of the job, and the line's number in it): the store keeps each ``(job_id, run, run_seq)``
    once, so a line delivered again is not stored again. Lines without them are always stored.
    """

    job_id: str
    at: datetime
    level: str
    line: str
    run: str | None = None
    run_seq: int | None = None

    @property
    def key(self) -> tuple[str, str, int] | None:
        """What makes the line unique in its job's log, when its sender numbered it."""
        if self.run is None or self.run_seq is None:
            return None
        return (self.job_id, self.run, self.run_seq)


class JobLogStore(ABC):
    @abstractmethod
    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        """Store one line at the end of the job's log and return it with its ``seq``."""

    @abstractmethod
    async def append_many(self, lines: Sequence[LogLine]) -> list[LogRecord]:
        """Store several lines, possibly of several jobs, each at the end of its job's log in
        the order given; return the lines stored, numbered.

        Exactly once: a line whose ``key`` is already stored (by an earlier call, from any
        process, or earlier in this one) is skipped and not returned, so delivering a batch
        again stores nothing twice. All the others are stored, or none and an error is raised
        (the caller may then store them one by one, calling this with one line at a time).
        """

    @abstractmethod
    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        """Lines with ``seq > after``, in order, at most ``limit``. Unknown jobs give []."""

    @abstractmethod
    async def delete(self, job_id: str) -> None:
        """Forget a job's log. Idempotent."""
