"""Job log lines in PostgreSQL or SQLite, numbered per job without gaps or duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import msgspec
from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.errors import Boundary
from dpr.adapters.sql.mapping import row_to_log, storable
from dpr.adapters.sql.statements import APPEND_LOG, INSERT_LOGS, LAST_SEQS, READ_LOG
from dpr.adapters.sql.tables import job_logs
from dpr.ports.log_store import JobLogStore, LogLine, LogRecord

# Each failed attempt means another appender committed a line, so the number of attempts an
# append needs is bounded by the number of concurrent appenders to the same job.
MAX_ATTEMPTS = 200


class SqlJobLogStore(JobLogStore):
    """A ``JobLogStore`` on the same database as ``SqlJobRepository``.

    ``append`` numbers a line with one ``INSERT ... SELECT max(seq) + 1`` statement. SQLite runs
    it under its single write lock; on PostgreSQL two concurrent appenders may pick the same
    number, the primary key rejects the second, and it retries with the next one.
    ``append_many`` reads the last numbers of the jobs concerned and inserts all lines in one
    multi-row statement, in one transaction retried the same way.

    Args:
        engine: the async engine, shared with (and disposed by) the job repository.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Every operation is one statement, its own transaction.
        self._auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._boundary = Boundary(engine.url)

    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        level, line = storable(level), storable(line)
        parameters = {"job_id": job_id, "at": at, "level": level, "line": line}
        with self._boundary:
            for _ in range(MAX_ATTEMPTS):
                try:
                    async with self._auto.connect() as conn:
                        seq = (await conn.execute(APPEND_LOG, parameters)).scalar_one()
                except IntegrityError:
                    continue
                return LogRecord(job_id=job_id, seq=seq, at=at, level=level, line=line)
        raise RuntimeError(f"could not number a log line of job {job_id!r} after {MAX_ATTEMPTS} attempts")

    async def append_many(self, lines: Sequence[LogLine]) -> list[LogRecord]:
        if len(lines) <= 1:
            return [await self.append(x.job_id, x.at, x.level, x.line) for x in lines]
        job_ids = sorted({x.job_id for x in lines})
        with self._boundary:
            for _ in range(MAX_ATTEMPTS):
                try:
                    async with self._engine.begin() as conn:
                        last = {
                            job_id: seq for job_id, seq in (await conn.execute(LAST_SEQS, {"job_ids": job_ids})).all()
                        }
                        records = _numbered(lines, last)
                        await conn.execute(INSERT_LOGS, [msgspec.structs.asdict(r) for r in records])
                except IntegrityError:
                    continue  # another appender took a number: none of these went in
                return records
        raise RuntimeError(f"could not number {len(lines)} log lines after {MAX_ATTEMPTS} attempts")

    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        parameters = {"job_id": job_id, "after": after, "limit": max(limit, 0)}
        with self._boundary:
            async with self._auto.connect() as conn:
                rows = (await conn.execute(READ_LOG, parameters)).all()
        return [row_to_log(row) for row in rows]

    async def delete(self, job_id: str) -> None:
        with self._boundary:
            async with self._auto.connect() as conn:
                await conn.execute(delete(job_logs).where(job_logs.c.job_id == job_id))


def _numbered(lines: Sequence[LogLine], last: dict[str, int]) -> list[LogRecord]:
    """The lines as records numbered after each job's ``last`` line number (-1: none yet)."""
    out = []
    for x in lines:
        seq = last[x.job_id] = last.get(x.job_id, -1) + 1
        out.append(LogRecord(job_id=x.job_id, seq=seq, at=x.at, level=storable(x.level), line=storable(x.line)))
    return out
