"""Helpers of the contract suites: job builders (defaults plus the overrides a test names)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import psycopg
from msgspec.structs import replace
from sqlalchemy.engine import URL, make_url

from dpr.domain.execute import ExecuteRequest, OutputRequest, ResponseMode, Subscriber
from dpr.domain.job import Job
from dpr.domain.query import JobQuery
from dpr.domain.status import JobStatus
from dpr.ports.job_repository import JobRepository
from tests.sql_stores import open_sql_store

BASE = datetime(2024, 1, 1, tzinfo=UTC)
S = JobStatus


def in_ci() -> bool:
    """Whether this is a CI run, where tests that need a service must fail instead of skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def psycopg_connect(url: URL, **options: Any) -> psycopg.Connection[Any]:
    """A plain psycopg connection for test set-up, outside the adapter under test."""
    return psycopg.connect(
        host=url.host, port=url.port, user=url.username, password=url.password, dbname=url.database, **options
    )


def empty_tables(url: str) -> None:
    """Remove every job, log line, instance lease and API key from the migrated database at ``url``."""
    sa_url = make_url(url)
    if sa_url.get_backend_name() == "sqlite":
        with sqlite3.connect(sa_url.database or "") as conn:
            conn.execute("DELETE FROM jobs")
            conn.execute("DELETE FROM job_logs")
            conn.execute("DELETE FROM instances")
            conn.execute("DELETE FROM api_keys")
        return
    with psycopg_connect(sa_url, autocommit=True) as conn:
        conn.execute("TRUNCATE jobs, job_logs, instances, api_keys")


def at(seconds: float) -> datetime:
    """The instant ``seconds`` after a fixed base time (no hidden clock in tests)."""
    return BASE + timedelta(seconds=seconds)


def make_job(
    job_id: str = "job-1",
    *,
    status: JobStatus = JobStatus.ACCEPTED,
    created: float = 0,
    started: float | None = None,
    finished: float | None = None,
    process_id: str = "echo",
    owner: str | None = None,
    **changes: Any,
) -> Job:
    """A job brought to ``status`` through the domain's own transitions, times in seconds."""
    job = Job.accept(job_id=job_id, process_id=process_id, request=ExecuteRequest(), now=at(created), owner=owner)
    if started is not None or status is JobStatus.RUNNING:
        job = job.start(at(created if started is None else started))
    end = at(finished if finished is not None else (started if started is not None else created))
    if status is JobStatus.SUCCESSFUL:
        job = job.succeed(end, {"result": job_id})
    elif status is JobStatus.FAILED:
        job = job.fail(end, "the processor crashed")
    elif status is JobStatus.DISMISSED:
        job = job.dismiss(end)
    return replace(job, **changes) if changes else job


def rich_request() -> ExecuteRequest:
    """A request using every kind of input the standard allows, nested and unicode."""
    return ExecuteRequest(
        inputs={
            "product": {"href": "s3://bucket/S1A_IW_RAW__0SDV.SAFE", "type": "application/zip"},
            "area": {"bbox": [1.5, -2.25, 3.0, 4.125], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
            "levels": [1, 2, 3],
            "options": {
                "value": {"nested": [True, None, "été ✓"], "deep": {"x": [[1], [2.5]]}},
                "mediaType": "application/json",
            },
            "big": 2**62,
            "ratio": 0.1,
            "empty": {},
            "text": 'line\nbreak "quoted" \\ back',
        },
        outputs={"result": OutputRequest(format={"mediaType": "application/json"}, transmissionMode="reference")},
        response=ResponseMode.DOCUMENT,
        subscriber=Subscriber(successUri="https://example.org/done", failedUri="https://example.org/failed"),
    )


def rich_job() -> Job:
    """A finished job with every field set, microsecond times and a non-UTC zone."""
    zone = timezone(timedelta(hours=2))
    created = datetime(2024, 5, 17, 10, 11, 12, 345678, tzinfo=zone)
    job = Job.accept(job_id="rich-Job_ü-1", process_id="s1_l0", request=rich_request(), now=created, owner="alice")
    job = job.start(created + timedelta(seconds=1, microseconds=1))
    job = job.report(created + timedelta(seconds=2), progress=42, message="half way")
    results = {"result": {"href": "s3://out/x.zarr"}, "stats": [1, 2.5, None], "nested": {"a": {"b": [{"c": "d"}]}}}
    job = job.succeed(created + timedelta(minutes=5, microseconds=999999), results)
    return replace(job, executor_ref="dask-key-123")


def catalogue() -> list[Job]:
    """Five jobs: every status, two processes, two owners and none.

    Durations at ``at(100)``: run 80 s (still running), ok 10 s, ko 5 s; acc and gone never started.
    """
    return [
        make_job("acc", created=0, owner="alice"),
        make_job("run", status=S.RUNNING, created=10, started=20, owner="bob"),
        make_job("ok", status=S.SUCCESSFUL, created=20, started=21, finished=31, process_id="mockup", owner="alice"),
        make_job("ko", status=S.FAILED, created=30, started=31, finished=36, process_id="mockup"),
        make_job("gone", status=S.DISMISSED, created=40, finished=41),
    ]


async def add_all(repository: JobRepository, *jobs: Job) -> None:
    for job in jobs:
        await repository.add(job)


async def listed_ids(repository: JobRepository, **query: Any) -> list[str]:
    """The ids on the first page of ``JobQuery(**query)``, measured at ``at(100)`` by default."""
    query.setdefault("now", at(100))
    page = await repository.list_jobs(JobQuery(**query))
    return [job.job_id for job in page.jobs]


@asynccontextmanager
async def views_of(
    repository: JobRepository, database_url: str | None, count: int
) -> AsyncIterator[list[JobRepository]]:
    """``count`` views of one store: the repository itself and, on SQL, more stores on its
    database (as several instances see it), closed afterwards."""
    if database_url is None:
        yield [repository] * count
        return
    others = [(await open_sql_store(database_url, connect_timeout=5, migrate=False))[0] for _ in range(count - 1)]
    try:
        yield [repository, *others]
    finally:
        for other in others:
            await other.close()
