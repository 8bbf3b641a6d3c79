"""Filling a PostgreSQL database with many realistic jobs, fast, for ``bench_store.py``.

Rows come from real ``Job`` Structs through the adapter's own ``job_to_row`` mapping and go in
with one ``COPY``: the table ends up exactly as if the SQL adapter had written every job.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import psycopg
from sqlalchemy.engine import URL, make_url

from dpr.adapters.sql.mapping import encode_json, job_to_row
from dpr.adapters.sql.tables import jobs as jobs_table
from dpr.domain.execute import ExecuteRequest, ResponseMode
from dpr.domain.job import Job
from dpr.domain.query import Cursor
from dpr.domain.status import JobStatus

# Mostly finished jobs, a few still active (start-up recovery fails those: an earlier run's
# in-process executor is gone), as on a service that has been running for months.
STATUS_WEIGHTS = {
    JobStatus.SUCCESSFUL: 0.83,
    JobStatus.FAILED: 0.10,
    JobStatus.DISMISSED: 0.068,
    JobStatus.RUNNING: 0.001,
    JobStatus.ACCEPTED: 0.001,
}
PROCESS_WEIGHTS = {"echo": 0.35, "mockup": 0.25, "s1_l0": 0.15, "s3_l0": 0.1, "s3_l1olci": 0.1, "s1_ard": 0.05}
SPREAD = timedelta(days=180)
JSON_COLUMNS = ("request", "results")
COLUMNS = tuple(column.name for column in jobs_table.columns)  # the fields and what the adapter derives


def psycopg_connect(url: URL, **options: object) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        dbname=url.database,
        **options,  # type: ignore[arg-type]
    )


def make_jobs(count: int, now: datetime, seed: int = 42) -> Iterator[Job]:
    """``count`` jobs with varied statuses, processes, owners and times over ``SPREAD``."""
    rnd = random.Random(seed)
    statuses, status_w = list(STATUS_WEIGHTS), list(STATUS_WEIGHTS.values())
    processes, process_w = list(PROCESS_WEIGHTS), list(PROCESS_WEIGHTS.values())
    # Oldest first, as a running service inserts them: the table's physical order follows
    # ``created``, which the planner's cost of walking the newest-first index depends on.
    ages = sorted((rnd.random() for _ in range(count)), reverse=True)
    for i, age in enumerate(ages):
        status = rnd.choices(statuses, status_w)[0]
        created = now - SPREAD * age
        request = ExecuteRequest(
            inputs={"echo": f"job {i}", "pause": rnd.randint(0, 5)}, response=ResponseMode.DOCUMENT
        )
        job = Job.accept(
            job_id=str(uuid.UUID(int=rnd.getrandbits(128), version=4)),
            process_id=rnd.choices(processes, process_w)[0],
            request=request,
            now=created,
            owner=f"user-{rnd.randint(1, 50)}" if rnd.random() < 0.3 else None,
        )
        yield _advance(job, status, rnd)


def _advance(job: Job, status: JobStatus, rnd: random.Random) -> Job:
    if status is JobStatus.ACCEPTED:
        return job
    started = job.created + timedelta(seconds=rnd.uniform(0, 60))
    if status is JobStatus.DISMISSED and rnd.random() < 0.3:
        return job.dismiss(started)  # dismissed while still queued
    job = job.start(started)
    finished = started + timedelta(seconds=rnd.expovariate(1 / 600))
    if status is JobStatus.RUNNING:
        return job.report(finished, progress=rnd.randint(0, 99), message="Working.")
    if status is JobStatus.SUCCESSFUL:
        return job.succeed(finished, {"echo": job.request.inputs["echo"]})
    if status is JobStatus.FAILED:
        return job.fail(finished, "the processor crashed")
    return job.dismiss(finished)


def copy_rows(jobs: Iterator[Job]) -> Iterator[tuple[object, ...]]:
    for job in jobs:
        row = job_to_row(job)
        for name in JSON_COLUMNS:
            if row[name] is not None:
                row[name] = encode_json(row[name])
        yield tuple(row[name] for name in COLUMNS)


def fill(url: str, count: int, now: datetime | None = None) -> float:
    """COPY ``count`` jobs into the (migrated, empty) database at ``url``, then VACUUM ANALYZE
    it as autovacuum eventually would. Returns the seconds it took."""
    began = time.perf_counter()
    now = now or datetime.now(UTC)
    columns = ", ".join(COLUMNS)
    with psycopg_connect(make_url(url)) as conn:
        with conn.cursor() as cur, cur.copy(f"COPY jobs ({columns}) FROM STDIN") as copy:
            for row in copy_rows(make_jobs(count, now)):
                copy.write_row(row)
    with psycopg_connect(make_url(url), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE jobs")
    return time.perf_counter() - began


def sample_ids(url: str, count: int) -> list[str]:
    """``count`` job ids spread over the whole table (a 1% block sample, then random ones)."""
    with psycopg_connect(make_url(url)) as conn:
        rows = conn.execute(
            "SELECT job_id FROM jobs TABLESAMPLE SYSTEM (1) ORDER BY random() LIMIT %s", (count,)
        ).fetchall()
        if len(rows) < count:
            rows = conn.execute("SELECT job_id FROM jobs ORDER BY random() LIMIT %s", (count,)).fetchall()
    return [str(r[0]) for r in rows]


def deep_cursor(url: str, fraction: float = 0.9) -> str:
    """The cursor a client holds after paging ``fraction`` of the way down the newest-first list."""
    with psycopg_connect(make_url(url)) as conn:
        total = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]  # type: ignore[index]
        row = conn.execute(
            "SELECT created, job_id FROM jobs ORDER BY created DESC, job_id DESC OFFSET %s LIMIT 1",
            (int(total * fraction),),
        ).fetchone()
    assert row is not None
    return Cursor(created=row[0].astimezone(UTC), job_id=row[1]).encode()
