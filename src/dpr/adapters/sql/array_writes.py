"""Batched writes on PostgreSQL as one statement, each column's values one array parameter,
run through psycopg itself.

A batch of N rows through ``executemany`` is N statements: psycopg dumps, sends and parses each
one (its pipeline saves the round trips, not that work) and SQLAlchemy's execution path runs
around them. A profile of async submission put ~22% of the server's CPU there. Here a batch is
one statement: ``unnest`` turns the arrays back into rows inside the database, and since the
parameters are the same whatever the batch's size, one prepared statement serves every batch
(psycopg prepares a statement from its fifth run). The connection, its pool and its settings
are SQLAlchemy's, as for ``PointRead``. SQLite keeps SQLAlchemy's ``executemany``.

The arrays go in binary (``%(name)b``), built by ``binary_arrays.py`` from each column's type:
psycopg writes a text array element by element in Python, escaping each with a regular
expression, which cost more than the statements it replaced (inserting batches of 200 jobs: 40
us of client CPU per job in text, 13 in binary with psycopg's own list dumper). The statements
return only integers, so no Core type has a result to convert.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Integer, Text
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection

from dpr.adapters.sql.binary_arrays import (
    BinaryArray,
    Int4Array,
    Int8Array,
    JsonArray,
    TextArray,
    TimestamptzArray,
)
from dpr.adapters.sql.lanes import Lane, driver_of
from dpr.adapters.sql.mapping import encode_json
from dpr.adapters.sql.tables import job_logs, jobs
from dpr.adapters.sql.timestamps import UtcDateTime
from dpr.domain.status import TERMINAL

_TERMINAL = ", ".join(f"'{s.value}'" for s in sorted(TERMINAL))


_ARRAYS: tuple[tuple[type[Any], str, type[BinaryArray]], ...] = (
    (UtcDateTime, "timestamptz", TimestamptzArray),
    (JSON, "json", JsonArray),
    (BigInteger, "int8", Int8Array),
    (Integer, "int4", Int4Array),
    (Text, "text", TextArray),
)


def _array_kind(column: Column[Any]) -> tuple[str, type[BinaryArray]]:
    """The PostgreSQL array type of a column's values (the parameter's cast) and its builder."""
    for core, name, build in _ARRAYS:
        if isinstance(column.type, core):
            return f"{name}[]", build
    raise AssertionError(f"no array type for {column.name}: {column.type!r}")


def _array_type(column: Column[Any]) -> str:
    return _array_kind(column)[0]


def _arrays(columns: Sequence[Column[Any]]) -> str:
    return ", ".join(f"%({c.name})b::{_array_type(c)}" for c in columns)


_JOB_COLUMNS = list(jobs.columns)
_SET_COLUMNS = [c for c in _JOB_COLUMNS if c.name != "job_id"]

INSERT_JOBS = (
    f"INSERT INTO jobs ({', '.join(c.name for c in _JOB_COLUMNS)}) SELECT * FROM unnest({_arrays(_JOB_COLUMNS)})"
)
"""New jobs, one array per column. A taken id fails the statement, so no row goes in."""

UPDATE_JOBS = (
    f"UPDATE jobs SET {', '.join(f'{c.name} = v.{c.name}' for c in _SET_COLUMNS)}"
    f" FROM unnest(%(where_job_id)b::text[], %(where_version)b::int4[], %(where_status)b::text[],"
    f" {_arrays(_SET_COLUMNS)}) WITH ORDINALITY"
    f" AS v(where_job_id, where_version, where_status, {', '.join(c.name for c in _SET_COLUMNS)}, n)"
    " WHERE jobs.job_id = v.where_job_id AND jobs.version = v.where_version"
    f" AND (jobs.status NOT IN ({_TERMINAL}) OR jobs.status = v.where_status)"
    " RETURNING v.n"
)
"""``UPDATE_JOB``'s compare-and-set for many jobs: each row only over the version its writer read,
and a terminal job keeps its status. Returns the (1-based) positions of the changes stored.
Two changes of one job would both match its row and PostgreSQL would pick one: the caller
sends such a batch one change at a time."""

UPDATE_NAMES = ("where_job_id", "where_version", "where_status", *(c.name for c in _SET_COLUMNS))
"""The parameters of ``UPDATE_JOBS``, named as in ``statements.update_parameters``."""
JOB_NAMES = tuple(c.name for c in _JOB_COLUMNS)

_LOG_GIVEN = [job_logs.c[name] for name in ("job_id", "at", "level", "line", "run", "run_seq")]
_LOG_NAMES = ", ".join(c.name for c in _LOG_GIVEN)
LOG_NAMES = tuple(c.name for c in _LOG_GIVEN)

APPEND_LOGS = (
    f"WITH given AS (SELECT * FROM unnest({_arrays(_LOG_GIVEN)}) WITH ORDINALITY AS g({_LOG_NAMES}, n)),"
    # A numbered line is new when no earlier line of the batch has its key and it is not stored.
    " new AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY job_id, run, run_seq ORDER BY n) AS copy"
    " FROM given) AS g WHERE run IS NULL OR run_seq IS NULL OR (copy = 1 AND NOT EXISTS (SELECT FROM job_logs AS l"
    " WHERE l.job_id = g.job_id AND l.run = g.run AND l.run_seq = g.run_seq))),"
    # Each job's new lines in the order given, after its last stored line.
    " numbered AS MATERIALIZED (SELECT *,"
    " coalesce((SELECT max(l.seq) FROM job_logs AS l WHERE l.job_id = new.job_id), -1)"
    " + row_number() OVER (PARTITION BY job_id ORDER BY n) AS seq FROM new),"
    # (Read twice, so computed once: the rows returned are the rows stored.)
    f" stored AS (INSERT INTO job_logs (seq, {_LOG_NAMES}) SELECT seq, {_LOG_NAMES} FROM numbered)"
    " SELECT n, seq FROM numbered ORDER BY n"
)
"""Log lines of several jobs, numbered and stored in one statement: the lines already stored
(by their key) are skipped, each job's others numbered after its last line. Returns the
position (1-based) and number of each line stored, in the order given. A concurrent appender
that numbered a line of the same job, or stored the same keyed line, fails the statement
(primary key, unique index): none of its lines went in, and the caller retries."""


class ArrayWrite:
    """One of the statements above and how to run it on a pooled connection's psycopg
    connection (PostgreSQL with psycopg only; the caller holds the connection in autocommit:
    the statement is its own transaction).

    Driver errors come out as SQLAlchemy raises them (``IntegrityError`` for a constraint), so
    callers treat both paths alike; a connection the driver found broken is dropped from the
    pool before the error goes on (to the boundary).
    """

    def __init__(self, dialect: Dialect, text: str) -> None:
        import psycopg  # on PostgreSQL only: a SQLite server never loads it

        self._text = text
        self._binds = _binds(dialect)
        self._builds = _builds()
        self._error = psycopg.Error
        self._broken = (psycopg.OperationalError, psycopg.InterfaceError)

    def parameters(self, rows: Sequence[dict[str, Any]], names: Sequence[str]) -> dict[str, BinaryArray]:
        """The array parameters of ``rows``: per name, every row's value as its column's type
        stores it (times checked aware, JSON as text; None: SQL NULL), in binary. Raises
        ``UnicodeEncodeError`` for text UTF-8 cannot encode (a lone surrogate)."""
        out: dict[str, BinaryArray] = {}
        for name in names:
            values = [row[name] for row in rows]
            bind = self._binds.get(name)
            if bind is not None:
                values = [None if v is None else bind(v) for v in values]
            out[name] = self._builds[name].of(values)
        return out

    async def run(
        self, conn: AsyncConnection, parameters: dict[str, Any], lane: Lane | None = None
    ) -> tuple[int, list[tuple[Any, ...]]]:
        """The statement's row count and the rows it returned (``conn`` may be ``lane``'s)."""
        driver: Any = await (lane.driver(conn) if lane is not None else driver_of(conn))
        try:
            async with driver.cursor() as cursor:
                await cursor.execute(self._text, parameters)
                rows: list[tuple[Any, ...]] = await cursor.fetchall() if cursor.description else []
                return int(cursor.rowcount), rows
        except self._error as error:
            broken = isinstance(error, self._broken)
            if broken:
                await conn.invalidate()
            raise sa_exc.DBAPIError.instance(
                self._text, None, error, self._error, hide_parameters=True, connection_invalidated=broken
            ) from error


def _binds(dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
    """Per column name (of ``jobs`` and ``job_logs``), what binding does to a value, if anything
    (times are checked and converted by their array's builder)."""
    found: dict[str, Callable[[Any], Any]] = {}
    for column in (*jobs.columns, *job_logs.columns):
        if isinstance(column.type, JSON):
            found[column.name] = encode_json
        elif isinstance(column.type, UtcDateTime):
            continue
        elif (bind := column.type.dialect_impl(dialect).bind_processor(dialect)) is not None:
            found[column.name] = bind
    return found


def _builds() -> dict[str, type[BinaryArray]]:
    """Per parameter name of the statements above, the builder of its array."""
    found = {column.name: _array_kind(column)[1] for column in (*jobs.columns, *job_logs.columns)}
    found |= {"where_job_id": TextArray, "where_version": Int4Array, "where_status": TextArray}
    return found
