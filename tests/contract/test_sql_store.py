"""What only the SQL adapters promise: shared transactions, storage formats, URLs, errors."""

from __future__ import annotations

import asyncio
import socket
import sqlite3
import threading
import traceback
from datetime import UTC, timedelta, timezone
from pathlib import Path

import pytest
from contract_support import at, empty_tables, make_job
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import make_url

from dpr.adapters.sql import url_from_postgres_env
from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.errors import Boundary, RedactedError, redact
from dpr.adapters.sql.migrate import current_revision, head_revision
from dpr.domain.errors import NoSuchJob, Unavailable
from dpr.domain.status import JobStatus
from tests.sql_stores import open_sql_store


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_deleting_a_job_also_deletes_its_log_lines(sql_url: str) -> None:
    repository, log_store = await open_sql_store(sql_url, migrate=False)
    try:
        await repository.add(make_job("doomed"))
        await log_store.append("doomed", at(1), "INFO", "soon gone")
        await log_store.append("other", at(1), "INFO", "stays")
        await repository.delete("doomed")
        assert await log_store.read("doomed") == []
        assert len(await log_store.read("other")) == 1
        with pytest.raises(NoSuchJob):
            await repository.delete("doomed")
    finally:
        await repository.close()


async def test_nul_characters_in_free_text_are_stored_as_replacement_characters(sql_url: str) -> None:
    repository, log_store = await open_sql_store(sql_url, migrate=False)
    try:
        record = await log_store.append("job-1", at(1), "INFO", "binary\x00output")
        assert record.line == "binary\ufffdoutput"
        assert await log_store.read("job-1") == [record]
        await repository.add(make_job(status=JobStatus.FAILED, finished=2, error="bad\x00byte"))
        assert (await repository.get("job-1")).error == "bad\ufffdbyte"
    finally:
        await repository.close()


async def test_times_come_back_in_utc_whatever_zone_they_were_written_in(sql_url: str) -> None:
    repository, _ = await open_sql_store(sql_url, migrate=False)
    try:
        zoned = at(0).astimezone(timezone(timedelta(hours=9, minutes=30)))
        await repository.add(make_job(created=0, updated=zoned))
        assert (await repository.get("job-1")).updated.tzinfo == UTC
    finally:
        await repository.close()


@pytest.mark.postgres
async def test_postgres_plans_each_compare_and_set_with_its_parameters(postgres_url: str) -> None:
    """A generic plan chosen while the table was tiny (a sequential scan) would stay with the
    connection as the table grows: every prepared execution must get a plan of its own."""
    empty_tables(postgres_url)
    repository, _ = await open_sql_store(postgres_url, pool_size=1, max_overflow=0, migrate=False)
    try:
        jobs = [make_job(f"job-{i}") for i in range(12)]
        for job in jobs:  # psycopg prepares a statement from its fifth run on
            await repository.add(job)
            await repository.update(job.start(at(5)), expected_version=job.version)
        async with repository._engine.connect() as conn:  # the pool's one connection
            plans = (await conn.execute(text(PLANS), {"pattern": "UPDATE jobs SET%"})).one()
        assert plans.generic_plans == 0 and plans.custom_plans >= 5
    finally:
        await repository.close()


PLANS = (
    "SELECT sum(generic_plans) AS generic_plans, sum(custom_plans) AS custom_plans"
    " FROM pg_prepared_statements WHERE statement LIKE :pattern"
)


async def test_sqlite_stores_times_as_integer_microseconds(tmp_path: Path) -> None:
    path = tmp_path / "dpr.db"
    repository, _ = await open_sql_store(f"sqlite+aiosqlite:///{path}")
    try:
        await repository.add(make_job(created=1.000001))
    finally:
        await repository.close()
    with sqlite3.connect(path) as raw:
        (created,) = raw.execute("SELECT created FROM jobs").fetchone()
        assert created == 1_704_067_201_000_001  # 2024-01-01T00:00:01.000001Z


async def test_sqlite_store_makes_its_folder_and_runs_in_wal_mode(tmp_path: Path) -> None:
    path = tmp_path / "new" / "nested" / "dpr.db"
    url = f"sqlite+aiosqlite:///{path}"
    repository, _ = await open_sql_store(url)
    await repository.close()
    assert path.exists()
    engine = create_sql_engine(url)
    try:
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()
    with sqlite3.connect(path) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone() == ("wal",)


async def test_an_unreachable_server_raises_unavailable_naming_host_not_password() -> None:
    port = free_port()
    url = f"postgresql+psycopg://dpr:S3cr%40t-pass@127.0.0.1:{port}/jobsdb"
    began = asyncio.get_running_loop().time()
    with pytest.raises(Unavailable) as raised:
        await open_sql_store(url, connect_timeout=1.0, connect_pause=0.2)
    assert asyncio.get_running_loop().time() - began < 10
    assert f"127.0.0.1:{port}/jobsdb" in raised.value.reason
    printed = "".join(traceback.format_exception(raised.value))
    assert "S3cr@t-pass" not in printed and "S3cr%40t-pass" not in printed


async def settle_aiosqlite_threads() -> None:
    """Let the worker threads of failed aiosqlite connections end while this loop still runs.

    aiosqlite stops a connection that failed to open without waiting for its thread
    (omnilib/aiosqlite#259); if the test's loop closed first, the thread would raise.
    """
    for _ in range(500):
        if not any("_connection_worker_thread" in thread.name for thread in threading.enumerate()):
            return
        await asyncio.sleep(0.01)


async def test_a_sqlite_path_that_cannot_be_opened_raises_unavailable(tmp_path: Path) -> None:
    with pytest.raises(Unavailable) as raised:
        await open_sql_store(f"sqlite+aiosqlite:///{tmp_path}", connect_timeout=0.5, connect_pause=0.1)
    await settle_aiosqlite_threads()
    assert str(tmp_path) in raised.value.reason


def test_a_driver_message_with_the_password_is_redacted_in_reason_and_cause() -> None:
    boundary = Boundary(make_url("postgresql+psycopg://u:hunter2@db.example:5432/jobs"))
    driver = ConnectionError("connection failed: host=db.example password=hunter2 user=u")
    error = sa_exc.OperationalError("SELECT 1", {}, driver)
    with pytest.raises(Unavailable) as raised, boundary:
        raise error
    assert "db.example:5432/jobs" in raised.value.reason
    assert isinstance(raised.value.__cause__, RedactedError)
    assert "hunter2" not in "".join(traceback.format_exception(raised.value))


def test_a_clean_driver_error_stays_the_cause() -> None:
    boundary = Boundary(make_url("postgresql+psycopg://u:hunter2@db.example/jobs"))
    error = sa_exc.OperationalError("SELECT 1", {}, ConnectionError("connection refused"))
    with pytest.raises(Unavailable) as raised, boundary:
        raise error
    assert raised.value.__cause__ is error


def test_errors_other_than_connection_errors_pass_through() -> None:
    boundary = Boundary(make_url("sqlite+aiosqlite:///x.db"))
    with pytest.raises(sa_exc.ProgrammingError), boundary:
        raise sa_exc.ProgrammingError("SELECT nope", {}, Exception("syntax error"))


@pytest.mark.parametrize(
    ("text", "password", "expected"),
    [
        ("postgresql://u:pw@h/db", None, "postgresql://u:***@h/db"),
        ("host=h password='a b' user=u", None, "host=h password=*** user=u"),
        ("PASSWORD = x1", None, "PASSWORD = ***"),
        ("raw p@ss w, quoted p%40ss+w and p%40ss%20w", "p@ss w", "raw ***, quoted *** and ***"),
    ],
)
def test_redact_hides_every_form_of_the_password(text: str, password: str | None, expected: str) -> None:
    assert redact(text, password) == expected


def test_the_rs_dpr_service_variables_make_a_url() -> None:
    env = {"POSTGRES_HOST": "db", "POSTGRES_PORT": "6543", "POSTGRES_DB": "dpr", "POSTGRES_USER": "svc"}
    env["POSTGRES_PASSWORD"] = "p@ss:w/rd"
    url = make_url(url_from_postgres_env(env) or "")
    assert (url.drivername, url.host, url.port, url.database, url.username) == (
        "postgresql+psycopg",
        "db",
        6543,
        "dpr",
        "svc",
    )
    assert url.password == "p@ss:w/rd"


def test_without_a_host_there_is_no_postgres_url() -> None:
    assert url_from_postgres_env({}) is None
    assert url_from_postgres_env({"POSTGRES_HOST": " ", "POSTGRES_USER": "x"}) is None


def test_the_postgres_url_defaults_port_database_and_user() -> None:
    url = make_url(url_from_postgres_env({"POSTGRES_HOST": "db"}) or "")
    assert (url.port, url.database, url.username, url.password) == (5432, "postgres", "postgres", None)


@pytest.mark.postgres
async def test_postgres_runs_every_size_of_batch_as_one_prepared_statement(postgres_url: str) -> None:
    """One array per column: batches of 2 to 9 changes share one statement, which psycopg
    prepares from its fifth run, and each run is planned with its parameters."""
    empty_tables(postgres_url)
    repository, _ = await open_sql_store(postgres_url, pool_size=1, max_overflow=0, migrate=False)
    try:
        jobs = [make_job(f"job-{i}", status=JobStatus.RUNNING) for i in range(9)]
        for job in jobs:
            await repository.add(job)
        for size in range(2, 10):
            changes = [(job.report(at(size), message=f"size {size}"), job.version) for job in jobs[:size]]
            jobs[:size] = [new for new, _ in changes]
            assert await repository.update_many(changes) == [None] * size
        async with repository._engine.connect() as conn:  # the pool's one connection
            plans = (
                await conn.execute(text(PLANS + " GROUP BY statement"), {"pattern": "UPDATE jobs SET%unnest%"})
            ).all()
        assert len(plans) == 1 and plans[0].generic_plans == 0 and plans[0].custom_plans >= 3
    finally:
        await repository.close()
