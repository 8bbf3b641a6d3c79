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
    """A line to append to a job's log (it gets its ``seq`` when stored)."""

    job_id: str
    at: datetime
    level: str
    line: str


class JobLogStore(ABC):
    @abstractmethod
    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        """Store one line at the end of the job's log and return it with its ``seq``."""

    async def append_many(self, lines: Sequence[LogLine]) -> list[LogRecord]:
        """Store several lines, possibly of several jobs, each at the end of its job's log in
        the order given; return them numbered. All are stored, or none and an error is raised
        (the caller may then store them one by one). The default appends one by one, which
        keeps that promise only where ``append`` cannot fail: other adapters override it and
        write the lines in one transaction."""
        return [await self.append(x.job_id, x.at, x.level, x.line) for x in lines]

    @abstractmethod
    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        """Lines with ``seq > after``, in order, at most ``limit``. Unknown jobs give []."""

    @abstractmethod
    async def delete(self, job_id: str) -> None:
        """Forget a job's log. Idempotent."""
