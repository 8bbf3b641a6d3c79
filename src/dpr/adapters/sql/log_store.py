"""Job log lines in PostgreSQL or SQLite, numbered per job without gaps or duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.array_writes import APPEND_LOGS, LOG_NAMES, ArrayWrite
from dpr.adapters.sql.errors import Boundary
from dpr.adapters.sql.lanes import Lane
from dpr.adapters.sql.mapping import row_to_log, storable
from dpr.adapters.sql.statements import APPEND_LOG, INSERT_LOGS, LAST_SEQS, READ_LOG, STORED_RUN_LINES
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
    ``append_many`` skips the numbered lines already stored, numbers the others after their
    jobs' last lines and stores them, retried the same way: a concurrent appender storing the
    same numbered line makes the unique index refuse the batch, and the retry finds the line
    stored. On PostgreSQL with psycopg that is one statement (``APPEND_LOGS``); on SQLite a
    transaction of up to three.

    Args:
        engine: the async engine, shared with (and disposed by) the job repository.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        # Every operation is one statement, its own transaction.
        self._auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._boundary = Boundary(engine.url)
        dialect = engine.dialect
        direct = dialect.name == "postgresql" and dialect.driver == "psycopg"
        self._append_logs = ArrayWrite(dialect, APPEND_LOGS) if direct else None
        self._lane = Lane(engine)  # the batches of lines follow each other (lanes.py)

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
        if not lines:
            return []
        if self._append_logs is not None:  # even for one line: a little cheaper than ``append``
            return await self._append_arrays(self._append_logs, lines)
        if len(lines) == 1 and lines[0].key is None:
            return [await self.append(lines[0].job_id, lines[0].at, lines[0].level, lines[0].line)]
        job_ids = sorted({x.job_id for x in lines})
        runs = sorted({key[1] for key in (x.key for x in lines) if key is not None})
        with self._boundary:
            for _ in range(MAX_ATTEMPTS):
                try:
                    async with self._engine.begin() as conn:
                        stored: set[tuple[str, str, int]] = set()
                        if runs:  # a unique index would refuse them too, but fail the whole batch
                            result = await conn.execute(STORED_RUN_LINES, {"job_ids": job_ids, "runs": runs})
                            stored = {tuple(row) for row in result.all()}
                        last = {
                            job_id: seq for job_id, seq in (await conn.execute(LAST_SEQS, {"job_ids": job_ids})).all()
                        }
                        records = _numbered(_new(lines, stored), last)
                        if records:
                            await conn.execute(INSERT_LOGS, records)
                except IntegrityError:
                    continue  # another appender took a number or stored a line: none of these went in
                return [_record(row) for row in records]
        raise RuntimeError(f"could not number {len(lines)} log lines after {MAX_ATTEMPTS} attempts")

    async def _append_arrays(self, write: ArrayWrite, lines: Sequence[LogLine]) -> list[LogRecord]:
        rows = [_row(x) for x in lines]
        parameters = write.parameters(rows, LOG_NAMES)
        with self._boundary:
            for _ in range(MAX_ATTEMPTS):
                try:
                    async with self._lane() as conn:
                        _, stored = await write.run(conn, parameters, self._lane)
                except IntegrityError:
                    continue  # another appender took a number or stored a line: none of these went in
                return [_record(rows[n - 1] | {"seq": seq}) for n, seq in stored]
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


def _new(lines: Sequence[LogLine], stored: set[tuple[str, str, int]]) -> list[LogLine]:
    """The lines whose key is not ``stored`` nor taken by an earlier line of the batch."""
    out = []
    for x in lines:
        key = x.key
        if key is not None:
            if key in stored:
                continue
            stored.add(key)
        out.append(x)
    return out


def _numbered(lines: Sequence[LogLine], last: dict[str, int]) -> list[dict[str, Any]]:
    """The ``job_logs`` rows of the lines, numbered after each job's ``last`` line (-1: none yet)."""
    out = []
    for x in lines:
        seq = last[x.job_id] = last.get(x.job_id, -1) + 1
        out.append(_row(x) | {"seq": seq})
    return out


def _row(x: LogLine) -> dict[str, Any]:
    """The ``job_logs`` row of a line, but its number."""
    level, line = storable(x.level), storable(x.line)
    return {"job_id": x.job_id, "at": x.at, "level": level, "line": line, "run": x.run, "run_seq": x.run_seq}


def _record(row: dict[str, Any]) -> LogRecord:
    return LogRecord(job_id=row["job_id"], seq=row["seq"], at=row["at"], level=row["level"], line=row["line"])
