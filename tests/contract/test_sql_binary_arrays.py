"""Arrays built in binary by dpr (adapters/sql/binary_arrays.py) read back by PostgreSQL as the
values they were built from, NULLs, empty arrays and edge values included."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
import pytest
from contract_support import empty_tables, make_job
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dpr.adapters.sql import binary_arrays as arrays
from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.job_repository import SqlJobRepository

pytestmark = pytest.mark.postgres

CASES: list[tuple[type[arrays.BinaryArray], str, list[Any]]] = [
    (arrays.TextArray, "text[]", ["", "a", None, "é ü ß 日本", "emoji \U0001f600", "x" * 10_000, "quote ' \" \\ {}"]),
    (arrays.JsonArray, "json[]", ['{"a": [1, 2]}', None, '"text"', "null"]),
    (arrays.Int4Array, "int4[]", [0, 1, -1, 2**31 - 1, -(2**31), None]),
    (arrays.Int8Array, "int8[]", [0, 2**63 - 1, -(2**63), None, 86_400_000_000]),
    (
        arrays.TimestamptzArray,
        "timestamptz[]",
        [
            datetime(2026, 12, 3, 21, 40, 1, 123456, tzinfo=UTC),
            datetime(1999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),  # before PostgreSQL's epoch
            datetime(1970, 1, 1, tzinfo=UTC),
            None,
            datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
        ],
    ),
]


def connect(postgres_url: str) -> psycopg.Connection[Any]:
    url = make_url(postgres_url).set(drivername="postgresql")
    conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
    arrays.register_dumpers(conn.adapters)
    return conn


@pytest.mark.parametrize(("kind", "cast", "values"), CASES, ids=[cast for _, cast, _ in CASES])
def test_postgres_reads_back_the_values_an_array_was_built_from(
    postgres_url: str, kind: type[arrays.BinaryArray], cast: str, values: list[Any]
) -> None:
    with connect(postgres_url) as conn:
        for given in (values, [], [None], values[:1]):
            statement = "SELECT %(a)b::" + cast + ("::text[]" if kind is arrays.JsonArray else "")
            (found,) = conn.execute(statement, {"a": kind.of(given)}).fetchone() or (None,)
            assert found == given


def test_rows_come_back_in_order_from_unnest(postgres_url: str) -> None:
    with connect(postgres_url) as conn:
        rows = conn.execute(
            "SELECT * FROM unnest(%(ids)b::text[], %(n)b::int4[]) WITH ORDINALITY",
            {"ids": arrays.TextArray.of(["a", "b", None]), "n": arrays.Int4Array.of([1, None, 3])},
        ).fetchall()
    assert rows == [("a", 1, 1), ("b", None, 2), (None, 3, 3)]


def test_text_utf8_cannot_encode_and_naive_times_raise_before_anything_is_sent() -> None:
    with pytest.raises(UnicodeEncodeError):
        arrays.TextArray.of(["fine", "lone \ud800 surrogate"])
    with pytest.raises(ValueError, match="naive"):
        arrays.TimestamptzArray.of([datetime(2026, 1, 1)])  # naive: the case under test


async def test_a_connection_the_pool_opened_before_the_store_existed_sends_batched_writes(postgres_url: str) -> None:
    """The arrays' dumpers are the connection's own, not psycopg's global ones: a server whose
    first connection served another store (API keys) before the job store was built failed
    every batched write with "cannot adapt type 'arrays.TextArray'"."""
    empty_tables(postgres_url)
    engine = create_sql_engine(make_url(postgres_url), pool_size=1)
    async with engine.connect() as conn:  # opened now, kept by the pool
        await conn.execute(text("SELECT 1"))
    repository = SqlJobRepository(engine, migrate=False)
    try:
        await repository.open()
        jobs = [make_job(f"early-{n}") for n in range(3)]
        await asyncio.gather(*(repository.add(job) for job in jobs))
        assert [await repository.get(job.job_id) for job in jobs] == jobs
    finally:
        await repository.close()
