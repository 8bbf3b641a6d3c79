"""A real ``dpr serve`` stopped with SIGTERM: it drains (503, not ready), then waits for its
embedded cluster's jobs within the grace period, or hands a durable cluster's jobs over."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from dpr.domain.job import Job
from dpr.services.lifecycle import STOPPED
from tests.integration.server import (
    job_status,
    running_server,
    started_server,
    stored_jobs,
    submit_async,
    wait_healthy,
)
from tests.integration.test_dask_cluster import Cluster
from tests.waiting import scaled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASYNC = {"Prefer": "respond-async"}


@contextmanager
def serving(
    database: str, *args: str, grace: float, log: Path, env: dict[str, str] | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``dpr serve`` on ``database`` with the embedded defaults unless ``args`` or ``env`` say otherwise."""
    env = {"DPR_STORAGE_URL": database, "DPR_SERVER_GRACE_PERIOD": str(grace), **(env or {})}
    with started_server("-c", "config/dpr.yaml", *args, env=env, log=log) as (url, proc):
        wait_healthy(url, proc, log, timeout=120)
        yield url, proc


def stored(database: str, job_id: str) -> Job:
    return stored_jobs(database, [job_id])[0]


def test_sigterm_drains_the_embedded_cluster_waits_for_its_jobs_then_fails_those_still_running(tmp_path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"
    log = tmp_path / "serve.log"
    grace = scaled(8)
    with serving(database, grace=grace, log=log) as (url, proc):
        wait_for(lambda: httpx.get(f"{url}/health/ready").status_code == 200, 120, "the embedded cluster")
        short = submit_async(url, "mockup", {"duration": 2})
        long = submit_async(url, "mockup", {"duration": 600})
        wait_for(lambda: job_status(url, short) == job_status(url, long) == "running", 60, "both jobs to run")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()

        # Still serving while it drains: not ready, no new jobs, reads answered.
        ready = httpx.get(f"{url}/health/ready")
        assert ready.status_code == 503 and any("stopping" in r for r in ready.json()["reasons"])
        refused = httpx.post(f"{url}/processes/echo/execution", json={"inputs": {"echo": "x"}}, headers=ASYNC)
        assert refused.status_code == 503 and refused.headers["Retry-After"] and refused.json()["status"] == 503
        dpr_refused = httpx.post(f"{url}/dpr/processes/echo/execution", json={"inputs": {"echo": "x"}})
        assert dpr_refused.status_code == 503
        assert httpx.get(f"{url}/health").status_code == 200

        proc.wait(timeout=grace + scaled(60))
        took = time.monotonic() - sent
    assert took >= grace * 0.9, f"it stopped after {took:.1f} s, before the grace period with a job running"
    assert stored(database, short).status.value == "successful", "the short job ended within the grace period"
    failed = stored(database, long)
    assert failed.status.value == "failed" and failed.error == STOPPED, "not 'the worker running this job died'"


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path)
    try:
        running.add_worker()
        yield running
    finally:
        running.stop()


def test_sigterm_on_a_durable_cluster_hands_the_running_job_over_at_once(cluster: Cluster, tmp_path: Path):
    database = f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"
    log = tmp_path / "serve.log"
    remote = {"DPR_EXECUTOR_KIND": "scheduler", "DPR_EXECUTOR_ADDRESS": cluster.address}
    with serving(database, grace=scaled(60), log=log, env=remote) as (url, proc):
        job = submit_async(url, "mockup", {"duration": scaled(10)})
        wait_for(lambda: job_status(url, job) == "running", 60, "the job to run")
        proc.send_signal(signal.SIGTERM)
        sent = time.monotonic()
        proc.wait(timeout=scaled(30))
        assert time.monotonic() - sent < scaled(60) * 0.5, "it did not wait for the grace period"
    assert stored(database, job).status.value == "running", "handed over, not failed"
    with running_server("-c", "config/dpr.yaml", env={"DPR_STORAGE_URL": database, **remote}) as again:
        wait_for(lambda: job_status(again, job) == "successful", 120, "the next instance to record its end")
