"""Job logs in memory, for tests and ``--ephemeral`` servers."""

from __future__ import annotations

from datetime import datetime

from dpr.ports.log_store import JobLogStore, LogRecord


class InMemoryJobLogStore(JobLogStore):
    def __init__(self) -> None:
        self._lines: dict[str, list[LogRecord]] = {}

    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        lines = self._lines.setdefault(job_id, [])
        record = LogRecord(job_id=job_id, seq=len(lines), at=at, level=level, line=line)
        lines.append(record)
        return record

    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        return self._lines.get(job_id, [])[after + 1 : after + 1 + limit]

    async def delete(self, job_id: str) -> None:
        self._lines.pop(job_id, None)
