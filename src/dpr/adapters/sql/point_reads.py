"""Rows by key (and the active count every submission reads), read through psycopg itself
on a pooled connection (PostgreSQL only).

``GET /jobs/{id}`` is the most frequent request a client polling its job makes, and one
indexed row costs PostgreSQL microseconds: the cost is in Python. SQLAlchemy's execution
path (execution context, greenlet hand-offs, result proxy, row objects) took about as much
CPU as the rest of the request together. The statement is still the Core statement,
compiled once for the engine's dialect; the pool, its pings and the connection's settings
are SQLAlchemy's as for every other statement. SQLite keeps SQLAlchemy's path (its times
are integers that a Core type turns into datetimes).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql import Select

from dpr.adapters.sql.lanes import Lane, driver_of
from dpr.adapters.sql.mapping import row_values


class PointRead:
    """A compiled ``SELECT`` by key (one row, or a few by a list of keys) and how to run it on a
    connection of ``engine``."""

    def __init__(self, engine: AsyncEngine, statement: Select[Any]) -> None:
        self._statement = statement
        dialect = engine.dialect
        self._direct = dialect.name == "postgresql" and dialect.driver == "psycopg"
        self._text = str(statement.compile(dialect=dialect)) if self._direct else ""
        self._row_factory: Any = None
        self._broken: tuple[type[BaseException], ...] = ()
        if self._direct:  # psycopg is imported on PostgreSQL only: a SQLite server never loads it
            import psycopg
            from psycopg.rows import dict_row

            self._row_factory = dict_row
            self._broken = (psycopg.OperationalError, psycopg.InterfaceError)
        # What the columns' Core types do to a value read (times to UTC), as SQLAlchemy would.
        self._convert = [
            (column.name, convert)
            for column in statement.selected_columns
            if (convert := column.type.dialect_impl(dialect).result_processor(dialect, None)) is not None
        ]

    async def all(
        self, conn: AsyncConnection, parameters: dict[str, Any], lane: Lane | None = None
    ) -> list[dict[str, Any]]:
        """Every row, each as a dict of column name to value (see ``one_or_none``)."""
        if not self._direct:
            return [row_values(row) for row in (await conn.execute(self._statement, parameters)).all()]
        return await self._direct_rows(conn, parameters, lane)

    async def one_or_none(
        self, conn: AsyncConnection, parameters: dict[str, Any], lane: Lane | None = None
    ) -> dict[str, Any] | None:
        """The row as a dict of column name to value, or None. A connection the driver found
        broken is dropped from the pool before the error goes on (to the boundary). ``conn``
        may be ``lane``'s, which keeps its driver connection."""
        if not self._direct:
            row = (await conn.execute(self._statement, parameters)).one_or_none()
            return None if row is None else row_values(row)
        rows = await self._direct_rows(conn, parameters, lane)
        return rows[0] if rows else None

    async def _direct_rows(
        self, conn: AsyncConnection, parameters: dict[str, Any], lane: Lane | None
    ) -> list[dict[str, Any]]:
        driver: Any = await (lane.driver(conn) if lane is not None else driver_of(conn))
        try:
            async with driver.cursor(row_factory=self._row_factory) as cursor:
                await cursor.execute(self._text, parameters)
                rows: list[dict[str, Any]] = await cursor.fetchall()
        except self._broken:
            await conn.invalidate()
            raise
        for values in rows:
            for name, convert in self._convert:
                values[name] = convert(values[name])
        return rows
