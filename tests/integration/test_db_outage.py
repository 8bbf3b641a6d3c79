"""The database goes away under a running server, and comes back: 503s, then recovery.

A private PostgreSQL (``tests/pg_server.py``) is stopped as by a crash and started again on the
same port and data, under a real ``dpr serve`` process with one and with two HTTP workers.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator

import httpx
import pytest

from tests.integration.server import ROOT, python_path, running_server
from tests.pg_server import PASSWORD, PrivateServer, private_postgres
from tests.waiting import scaled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.postgres]

ASYNC = {"Prefer": "respond-async"}


@pytest.fixture(scope="module")
def database() -> Iterator[PrivateServer]:
    with private_postgres() as started:
        yield started


def submit(client: httpx.Client, text: str, pause: int = 0) -> str:
    """The status URL of a new async echo job."""
    response = client.post("/processes/echo/execution", json={"inputs": {"echo": text, "pause": pause}}, headers=ASYNC)
    assert response.status_code == 201, response.text
    return response.headers["location"]


def reaches(client: httpx.Client, job: str, status: str, timeout: float = 60) -> dict[str, object]:
    def reached() -> dict[str, object] | None:
        doc = client.get(job).json()
        return doc if doc["status"] == status else None

    return wait_for(reached, timeout, f"{job} to be {status}")


def assert_unavailable(response: httpx.Response, call: str) -> None:
    """503, an OGC exception naming the database, Retry-After; no password, no traceback."""
    assert response.status_code == 503, f"{call}: {response.status_code} {response.text}"
    assert response.headers["content-type"].startswith("application/json"), call
    assert int(response.headers["retry-after"]) > 0, call
    body = response.json()
    assert body["status"] == 503 and body["type"].endswith("/unavailable"), call
    assert "database" in body["detail"], call
    assert PASSWORD not in response.text and "Traceback" not in response.text, call


@pytest.mark.parametrize("http_workers", ["1", "2"])
def test_an_outage_answers_503_and_everything_works_again_without_a_restart(
    database: PrivateServer, http_workers: str
) -> None:
    env = {"DPR_STORAGE_URL": database.url(), "DPR_EXECUTOR_KIND": "fake", "DPR_STORAGE_CONNECT_TIMEOUT": "5"}
    with (
        running_server("--http-workers", http_workers, env=env) as url,
        httpx.Client(base_url=url, timeout=scaled(30)) as client,
    ):
        before = submit(client, "kept")
        reaches(client, before, "successful")
        finishing = submit(client, "ends during the outage", pause=2)
        submitted = time.monotonic()
        calls: dict[str, Callable[[], httpx.Response]] = {
            "GET /jobs": lambda: client.get("/jobs"),
            "GET /jobs/{id}": lambda: client.get(before),
            "POST execution": lambda: client.post(
                "/processes/echo/execution", json={"inputs": {"echo": "x"}}, headers=ASYNC
            ),
            "GET /health": lambda: client.get("/health"),
        }

        database.stop()
        try:
            for name, call in calls.items():
                assert_unavailable(call(), name)
            # Pacing, not a wait for a result: the outage lasts past the 2 s job so that (on a
            # machine that is not too busy) its outcome arrives while the store is down. The
            # assertions below hold either way.
            time.sleep(max(0.0, 3 - (time.monotonic() - submitted)))
            assert_unavailable(client.get(finishing), "GET /jobs/{id} of the running job")
        finally:
            database.start()

        for name, call in calls.items():  # the pool reconnects by itself; no restart
            wait_for(lambda call=call: call().status_code in (200, 201), 60, f"{name} to work again")
        assert reaches(client, before, "successful")["jobID"] in before
        # Its outcome came while the store was down: the service kept it and recorded it later.
        reaches(client, finishing, "successful")
        listed = {job["jobID"] for job in client.get("/jobs", params={"limit": 1000}).json()["jobs"]}
        assert {before.rsplit("/", 1)[1], finishing.rsplit("/", 1)[1]} <= listed


def test_start_up_waits_for_an_absent_database_then_gives_up_with_one_clear_line(database: PrivateServer) -> None:
    absent = database.url().replace(f":{database.port}/", ":9/")
    env = {
        **os.environ,
        "DPR_STORAGE_URL": absent,
        "DPR_EXECUTOR_KIND": "fake",
        "DPR_STORAGE_CONNECT_TIMEOUT": "2",
        "PYTHONPATH": python_path(),
    }
    began = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "dpr", "serve", "--port", "9", "--log-level", "error"],
        env=env,
        capture_output=True,
        text=True,
        timeout=scaled(120),
        cwd=ROOT,
    )
    assert time.monotonic() - began >= 2  # it waited storage.connect_timeout
    assert done.returncode == 3, done.stderr  # Exit.UNAVAILABLE
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error: cannot start: database unavailable") and "127.0.0.1:9/postgres" in last
    assert PASSWORD not in done.stderr + done.stdout and "Traceback" not in done.stderr
