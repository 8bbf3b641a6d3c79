"""Job logs in memory, for tests and ``--ephemeral`` servers."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dpr.ports.log_store import JobLogStore, LogLine, LogRecord


class InMemoryJobLogStore(JobLogStore):
    def __init__(self) -> None:
        self._lines: dict[str, list[LogRecord]] = {}
        self._keys: dict[str, set[tuple[str, str, int]]] = {}  # per job: the numbered lines it has

    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        lines = self._lines.setdefault(job_id, [])
        record = LogRecord(job_id=job_id, seq=len(lines), at=at, level=level, line=line)
        lines.append(record)
        return record

    async def append_many(self, lines: Sequence[LogLine]) -> list[LogRecord]:
        stored = []
        for x in lines:  # no await in between: all or none, and no other appender interleaves
            key = x.key
            if key is not None:
                keys = self._keys.setdefault(x.job_id, set())
                if key in keys:
                    continue
                keys.add(key)
            stored.append(await self.append(x.job_id, x.at, x.level, x.line))
        return stored

    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        return self._lines.get(job_id, [])[after + 1 : after + 1 + limit]

    async def delete(self, job_id: str) -> None:
        self._lines.pop(job_id, None)
        self._keys.pop(job_id, None)
