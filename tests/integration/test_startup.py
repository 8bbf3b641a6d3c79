"""``dpr serve`` on the embedded default answers before its cluster is up: jobs submitted then
wait ``accepted`` and run once it is, and readiness says why it is not ready meanwhile."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.server import running_server
from tests.waiting import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_jobs_accepted_while_the_embedded_cluster_starts_run_once_it_is_up(tmp_path):
    env = {"DPR_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"}
    with running_server("-c", "config/dpr.yaml", env=env) as url:
        ready = httpx.get(f"{url}/health/ready")  # right after /health first answered
        submitted = httpx.post(
            f"{url}/processes/echo/execution", json={"inputs": {"echo": "early"}}, headers={"Prefer": "respond-async"}
        )
        assert submitted.status_code == 201
        if ready.status_code == 503:  # the usual case: the cluster's workers take seconds to spawn
            assert ready.json()["reasons"] == [
                "the embedded Dask cluster is starting: jobs are accepted and wait until it is up"
            ]
        job = submitted.headers["Location"]
        wait_for(lambda: httpx.get(job).json()["status"] == "successful", 120, "the early job to run")
        assert httpx.get(f"{url}/health/ready").json() == {"status": "ready", "reasons": []}
