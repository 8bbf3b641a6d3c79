"""Job log lines in PostgreSQL or SQLite, numbered per job without gaps or duplicates."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Insert, Text, bindparam, delete, func, insert, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.errors import Boundary
from dpr.adapters.sql.mapping import row_to_log, storable
from dpr.adapters.sql.tables import job_logs
from dpr.adapters.sql.timestamps import UtcDateTime
from dpr.ports.log_store import JobLogStore, LogRecord

# Each failed attempt means another appender committed a line, so the number of attempts an
# append needs is bounded by the number of concurrent appenders to the same job.
MAX_ATTEMPTS = 200


class SqlJobLogStore(JobLogStore):
    """A ``JobLogStore`` on the same database as ``SqlJobRepository``.

    ``append`` numbers a line with one ``INSERT ... SELECT max(seq) + 1`` statement. SQLite runs
    it under its single write lock; on PostgreSQL two concurrent appenders may pick the same
    number, the primary key rejects the second, and it retries with the next one.

    Args:
        engine: the async engine, shared with (and disposed by) the job repository.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._boundary = Boundary(engine.url)

    async def append(self, job_id: str, at: datetime, level: str, line: str) -> LogRecord:
        level, line = storable(level), storable(line)
        statement = _append_statement(job_id, at, level, line)
        with self._boundary:
            for _ in range(MAX_ATTEMPTS):
                try:
                    async with self._engine.begin() as conn:
                        seq = (await conn.execute(statement)).scalar_one()
                except IntegrityError:
                    continue
                return LogRecord(job_id=job_id, seq=seq, at=at, level=level, line=line)
        raise RuntimeError(f"could not number a log line of job {job_id!r} after {MAX_ATTEMPTS} attempts")

    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        statement = (
            select(job_logs)
            .where(job_logs.c.job_id == job_id, job_logs.c.seq > after)
            .order_by(job_logs.c.seq)
            .limit(max(limit, 0))
        )
        with self._boundary:
            async with self._engine.connect() as conn:
                rows = (await conn.execute(statement)).all()
        return [row_to_log(row) for row in rows]

    async def delete(self, job_id: str) -> None:
        with self._boundary:
            async with self._engine.begin() as conn:
                await conn.execute(delete(job_logs).where(job_logs.c.job_id == job_id))


def _append_statement(job_id: str, at: datetime, level: str, line: str) -> Insert:
    """``INSERT INTO job_logs SELECT :job_id, coalesce(max(seq), -1) + 1, ... RETURNING seq``."""
    next_seq: ColumnElement[int] = func.coalesce(func.max(job_logs.c.seq), -1) + 1
    values = select(
        literal(job_id, job_logs.c.job_id.type),
        next_seq,
        bindparam("at", at, type_=UtcDateTime),
        literal(level, Text),
        literal(line, Text),
    ).where(job_logs.c.job_id == job_id)
    columns = ["job_id", "seq", "at", "level", "line"]
    return insert(job_logs).from_select(columns, values).returning(job_logs.c.seq)
