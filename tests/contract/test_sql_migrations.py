"""The packaged Alembic migrations, on SQLite and PostgreSQL.

Data written at every older revision must survive the upgrade to head. Each revision that
changes the schema adds a seeder here, writing rows the way that revision stored them (by
hand, not through today's mapping), so the test keeps proving old databases stay readable.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from contract_support import at, make_job, rich_job
from sqlalchemy import Connection, inspect, text

from dpr.adapters.sql import upgrade_url
from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.migrate import (
    HEAD_REVISION,
    alembic_config,
    current_revision,
    downgrade_engine,
    head_revision,
    stored_revisions,
    upgrade_engine,
)
from dpr.adapters.sql.tables import metadata
from dpr.domain.job import Job
from dpr.domain.query import JobQuery
from dpr.ports.log_store import LogRecord
from tests.sql_stores import open_sql_store

Seed = tuple[list[Job], list[LogRecord]]
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


async def run_sync(url: str, work: Callable[[Connection], Any]) -> Any:
    engine = create_sql_engine(url)
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(work)
    finally:
        await engine.dispose()


def seed_0001(conn: Connection) -> Seed:
    """Rows as revision 0001 stored them: timestamptz, or integer microseconds on SQLite."""
    sqlite = conn.dialect.name == "sqlite"

    def when(value: datetime | None) -> Any:
        if value is None or not sqlite:
            return value
        return (value - EPOCH) // timedelta(microseconds=1)

    as_json = "{}" if sqlite else "CAST({} AS json)"
    jobs = [rich_job(), make_job("plain", created=3)]
    columns = ["job_id", "process_id", "status", "created", "updated", "started", "finished", "progress"]
    columns += ["message", "request", "results", "error", "executor_ref", "owner", "version"]
    values = [as_json.format(f":{c}") if c in ("request", "results") else f":{c}" for c in columns]
    insert_job = text(f"INSERT INTO jobs ({', '.join(columns)}) VALUES ({', '.join(values)})")
    for job in jobs:
        row = {c: getattr(job, c) for c in columns}
        row |= {c: when(row[c]) for c in ("created", "updated", "started", "finished")}
        row |= {"status": job.status.value, "request": msgspec.json.encode(job.request).decode()}
        row["results"] = None if job.results is None else json.dumps(job.results)
        conn.execute(insert_job, row)
    logs = [LogRecord(job_id="plain", seq=n, at=at(5 + n), level="INFO", line=f"line {n}") for n in range(3)]
    insert_log = text("INSERT INTO job_logs (job_id, seq, at, level, line) VALUES (:job_id, :seq, :at, :level, :line)")
    for record in logs:
        conn.execute(insert_log, msgspec.structs.asdict(record) | {"at": when(record.at)})
    return jobs, logs


def seed_0003(conn: Connection) -> Seed:
    """0003 stores an ended job's ``finished - started`` in microseconds beside its row."""
    jobs, logs = seed_0001(conn)
    for job in jobs:
        if job.started is not None and job.finished is not None:
            micros = (job.finished - job.started) // timedelta(microseconds=1)
            conn.execute(text("UPDATE jobs SET duration_us = :d WHERE job_id = :id"), {"d": micros, "id": job.job_id})
    return jobs, logs


def seed_0004(conn: Connection) -> Seed:
    """0004 keeps where a numbered line came from (``run``, ``run_seq``), unique per job."""
    jobs, logs = seed_0003(conn)
    conn.execute(text("UPDATE job_logs SET run = 'r', run_seq = seq WHERE job_id = 'plain'"))
    return jobs, logs


def seed_0005(conn: Connection) -> Seed:
    """0005 names the instance owning each active job, whose lease is in ``instances``."""
    jobs, logs = seed_0004(conn)
    conn.execute(text("UPDATE jobs SET owner_instance = 'instance-1' WHERE job_id = 'plain'"))
    expires = at(99) if conn.dialect.name != "sqlite" else (at(99) - EPOCH) // timedelta(microseconds=1)
    conn.execute(text("INSERT INTO instances (instance_id, lease_expires) VALUES ('instance-1', :e)"), {"e": expires})
    return [msgspec.structs.replace(j, owner_instance="instance-1") if j.job_id == "plain" else j for j in jobs], logs


# 0002 only changed indexes: rows are stored as 0001 stored them. 0003 added duration_us,
# which the upgrade computes for the ended jobs older revisions stored. 0004 added run and
# run_seq, empty in the lines stored before; 0005 owner_instance and the instances' leases;
# 0006 added a table of its own (API keys), 0007 one kept by triggers (active_jobs): jobs and
# logs are stored as 0005 stored them.
SEEDERS: dict[str, Callable[[Connection], Seed]] = {
    "0001": seed_0001,
    "0002": seed_0001,
    "0003": seed_0003,
    "0004": seed_0004,
    "0005": seed_0005,
    "0006": seed_0005,
    "0007": seed_0005,
}


def revisions() -> list[str]:
    script = ScriptDirectory.from_config(alembic_config())
    return [r.revision for r in reversed(list(script.walk_revisions()))]


def test_the_revisions_form_one_line_and_every_one_has_a_seeder() -> None:
    script = ScriptDirectory.from_config(alembic_config())
    assert len(script.get_heads()) == 1
    assert revisions()[-1] == head_revision()
    assert set(SEEDERS) == set(revisions()), "add a seeder for each new revision"


def test_the_head_revision_start_up_compares_with_is_alembics() -> None:
    assert head_revision() == HEAD_REVISION, "set HEAD_REVISION in dpr/adapters/sql/migrate.py to the new revision"


async def test_a_database_at_head_is_left_as_is_without_loading_alembic(empty_sql_url: str) -> None:
    await upgrade_url(empty_sql_url)
    # A new interpreter: this one has Alembic loaded already.
    check = (
        "import asyncio, sys\n"
        "from dpr.adapters.sql.migrate import upgrade_url\n"
        f"asyncio.run(upgrade_url({empty_sql_url!r}))\n"
        "assert 'alembic' not in sys.modules, 'alembic was imported'\n"
    )
    done = await asyncio.to_thread(subprocess.run, [sys.executable, "-c", check], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("revision", [None, *SEEDERS])
async def test_the_stored_revision_read_without_alembic_is_the_one_alembic_reads(
    empty_sql_url: str, revision: str | None
) -> None:
    engine = create_sql_engine(empty_sql_url)
    try:
        if revision is not None:
            await upgrade_engine(engine, revision)
        async with engine.connect() as conn:
            stored = await stored_revisions(conn)
        assert stored == ([] if revision is None else [revision])
        assert await current_revision(engine) == revision
    finally:
        await engine.dispose()


async def test_upgrading_an_empty_database_reaches_head_and_repeating_it_changes_nothing(empty_sql_url: str) -> None:
    await upgrade_url(empty_sql_url)
    await upgrade_url(empty_sql_url)
    engine = create_sql_engine(empty_sql_url)
    try:
        assert await current_revision(engine) == head_revision()
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert {"jobs", "job_logs"} <= tables
    finally:
        await engine.dispose()


async def test_the_migrated_schema_is_the_one_the_code_declares(empty_sql_url: str) -> None:
    await upgrade_url(empty_sql_url)

    def differences(conn: Connection) -> list[Any]:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)

    assert await run_sync(empty_sql_url, differences) == []


@pytest.mark.parametrize("revision", list(SEEDERS))
async def test_data_written_at_an_older_revision_survives_the_upgrade_to_head(
    empty_sql_url: str, revision: str
) -> None:
    await upgrade_url(empty_sql_url, revision)
    jobs, logs = await run_sync(empty_sql_url, SEEDERS[revision])
    repository, log_store = await open_sql_store(empty_sql_url, migrate=True)
    try:
        for job in jobs:
            assert await repository.get(job.job_id) == job
        # Durations are filterable after the upgrade: the ended job is found by its exact one.
        ended = next(job for job in jobs if job.finished is not None)
        exact = ended.duration(at(0))
        page = await repository.list_jobs(JobQuery(now=at(10**6), min_duration=exact, max_duration=exact))
        assert [job.job_id for job in page.jobs] == [ended.job_id]
        assert await log_store.read("plain") == logs
        assert (await log_store.append("plain", at(9), "INFO", "after the upgrade")).seq == len(logs)
    finally:
        await repository.close()


async def test_downgrading_to_base_and_upgrading_again_works(empty_sql_url: str) -> None:
    engine = create_sql_engine(empty_sql_url)
    try:
        await upgrade_engine(engine)
        await downgrade_engine(engine, "base")
        assert await current_revision(engine) is None
        async with engine.connect() as conn:
            tables = await conn.run_sync(lambda sync: set(inspect(sync).get_table_names()))
        assert not {"jobs", "job_logs"} & tables
        await upgrade_engine(engine)
        assert await current_revision(engine) == head_revision()
    finally:
        await engine.dispose()


async def test_the_upgrade_to_0007_fills_active_jobs_with_exactly_the_active_jobs(empty_sql_url: str) -> None:
    await upgrade_url(empty_sql_url, "0006")
    seeded, _ = await run_sync(empty_sql_url, seed_0005)
    assert sorted(job.status.value for job in seeded) == ["accepted", "successful"]
    copy_plain = text(
        "INSERT INTO jobs (job_id, process_id, status, created, updated, progress, message, request, owner, version)"
        " SELECT :id, 'mockup', :status, created, updated, 0, '', request, :owner, 1 FROM jobs WHERE job_id = 'plain'"
    )
    more = [("run", "running", "bob"), ("gone", "dismissed", "bob"), ("anon", "accepted", None)]

    def add_more(conn: Connection) -> None:
        for job_id, status, owner in more:
            conn.execute(copy_plain, {"id": job_id, "status": status, "owner": owner})

    def active_rows(conn: Connection) -> set[tuple[Any, ...]]:
        return {tuple(row) for row in conn.execute(text("SELECT job_id, process_id, owner FROM active_jobs"))}

    await run_sync(empty_sql_url, add_more)
    await upgrade_url(empty_sql_url)
    active = await run_sync(empty_sql_url, active_rows)
    assert active == {("plain", "echo", None), ("run", "mockup", "bob"), ("anon", "mockup", None)}
    repository, _ = await open_sql_store(empty_sql_url, migrate=False)
    try:
        assert (await repository.count_active(), await repository.count_active("mockup", owner="bob")) == (3, 1)
    finally:
        await repository.close()
