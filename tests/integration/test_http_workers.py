"""``dpr serve --http-workers 2`` on a real executor: each worker an instance with its own lease.
On the embedded cluster the parent runs one LocalCluster for both; on a remote ``dask
scheduler`` each connects to it. Jobs sent to either worker end as they should, and a DELETE
reaches the run whichever worker answers it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import job_status, running_server, stored_jobs, submit_async
from tests.integration.test_dask_cluster import Cluster
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASYNC = {"Prefer": "respond-async"}
JOBS = 24


@pytest.fixture
def remote(tmp_path: Path) -> Iterator[Cluster]:
    cluster = Cluster(tmp_path)
    try:
        cluster.add_worker()
        cluster.add_worker()
        yield cluster
    finally:
        cluster.stop()


def exercise(url: str, database: str) -> None:
    echoes = [submit_async(url, "echo", {"echo": f"hello {n}"}) for n in range(JOBS)]
    wait_for(lambda: all(job_status(url, j) == "successful" for j in echoes), 180, "every echo job to succeed")
    owners = {job.owner_instance for job in stored_jobs(database, echoes)}
    assert len(owners) == 2, f"the jobs went to {owners}: not both workers"

    # Long runs fill the cluster's two slots (and wait behind them); each DELETE is answered by
    # whichever worker takes its connection, the owner or the other one.
    long = [submit_async(url, "mockup", {"duration": 600}) for _ in range(6)]
    wait_for(lambda: sum(job_status(url, j) == "running" for j in long) == 2, 120, "two long runs to start")
    for job_id in long:
        response = httpx.delete(f"{url}/jobs/{job_id}")
        assert response.status_code == 200 and response.json()["status"] == "dismissed", response.text
    assert {job.owner_instance for job in stored_jobs(database, long)} <= owners
    after = submit_async(url, "echo", {"echo": "after"})
    wait_for(lambda: job_status(url, after) == "successful", 120, "a new job to run: the dismissed runs stopped")
    assert all(job_status(url, j) == "dismissed" for j in long)


def test_two_http_workers_share_the_embedded_cluster(tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"
    env = {"DPR_STORAGE_URL": database, "DPR_SERVER_GRACE_PERIOD": "5"}
    with running_server("-c", "config/dpr.yaml", "--http-workers", "2", env=env) as url:
        wait_for(lambda: httpx.get(f"{url}/health/ready").status_code == 200, 120, "the embedded cluster")
        exercise(url, database)


def test_two_http_workers_on_a_remote_scheduler(remote: Cluster, tmp_path: Path) -> None:
    database = f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"
    env = {"DPR_STORAGE_URL": database, "DPR_EXECUTOR_KIND": "scheduler", "DPR_EXECUTOR_ADDRESS": remote.address}
    with running_server("-c", "config/dpr.yaml", "--http-workers", "2", env=env) as url:
        exercise(url, database)
