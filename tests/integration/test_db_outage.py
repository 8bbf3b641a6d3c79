"""The database goes away under a running server, and comes back: 503s, then recovery."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.server import ROOT, running_server
from tests.pg_server import PASSWORD, PrivateServer, postgres_bin

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@pytest.fixture(scope="module")
def database() -> Iterator[PrivateServer]:
    bin_dir = postgres_bin()
    if bin_dir is None:
        pytest.fail("no PostgreSQL binaries (initdb, pg_ctl) to start a private server")
    server = PrivateServer(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()


def assert_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["status"] == 503 and "database" in body["detail"]
    assert PASSWORD not in response.text and "Traceback" not in response.text


def test_an_outage_answers_503_and_the_server_recovers_by_itself(database):
    env = {"DPR_STORAGE_URL": database.url(), "DPR_EXECUTOR_KIND": "fake", "DPR_STORAGE_CONNECT_TIMEOUT": "5"}
    with running_server(env=env) as url, httpx.Client(base_url=url, timeout=30) as client:
        accepted = client.post("/processes/echo/execution", json={"inputs": {"echo": "kept"}}, headers={"Prefer": "respond-async"})
        assert accepted.status_code == 201
        job = accepted.headers["location"]

        database.stop()
        try:
            for response in (
                client.get("/jobs"),
                client.get(job),
                client.post("/processes/echo/execution", json={"inputs": {"echo": "lost?"}}, headers={"Prefer": "respond-async"}),
                client.get("/health"),
            ):
                assert_unavailable(response)
        finally:
            database.start()

        assert client.get(job).json()["status"] == "successful"
        assert client.get("/health").status_code == 200
        assert len(client.get("/jobs").json()["jobs"]) == 1


def test_start_up_gives_up_on_an_absent_database_with_one_clear_line(database):
    absent = database.url().replace(f":{database.port}/", ":9/")
    env = {"DPR_STORAGE_URL": absent, "DPR_EXECUTOR_KIND": "fake", "DPR_STORAGE_CONNECT_TIMEOUT": "2", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "dpr", "serve", "--port", "9", "--log-level", "error"],
        env={**__import__("os").environ, **env}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("error:") and "127.0.0.1:9" in last
    assert PASSWORD not in done.stderr + done.stdout and "Traceback" not in done.stderr
