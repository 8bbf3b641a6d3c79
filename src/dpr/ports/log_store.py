"""Where job log lines are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

import msgspec


class LogRecord(msgspec.Struct, frozen=True, kw_only=True):
    """One line of a job's log; ``seq`` counts from 0 per job."""

    job_id: str
    seq: int
    at: datetime
    level: str
    line: str


class JobLogStore(ABC):
    @abstractmethod
    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        """Store one line at the end of the job's log and return it with its ``seq``."""

    @abstractmethod
    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        """Lines with ``seq > after``, in order, at most ``limit``. Unknown jobs give []."""

    @abstractmethod
    async def delete(self, job_id: str) -> None:
        """Forget a job's log. Idempotent."""
