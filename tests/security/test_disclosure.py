"""What the server gives away (issue 14, section 4), against real servers: no server or
interpreter path in what clients read, and the job database readable by its user only."""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

import httpx
import yaml

from tests.integration.server import running_server


def test_a_missing_eopf_environment_is_described_without_its_path(tmp_path):
    venv = tmp_path / "secret-location" / "eopf-venv"
    config = tmp_path / "dpr.yaml"
    definition = {
        "id": "s1_l0",
        "processor": "dpr.adapters.processors.eopf:EopfProcessor",
        "options": {"venv": str(venv), "task_table": "s1_l0"},
    }
    config.write_text(yaml.safe_dump({"processes": {"definitions": [definition]}}))
    with (
        running_server("--ephemeral", "--config", str(config)) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        description = client.get("/processes/s1_l0").json()["description"]
        assert "EOPF is not installed on this server" in description and "secret-location" not in description
        job = client.post(
            "/dpr/processes/s1_l0/execution", json={"s3_config_dir": "s3://b/c", "payload_subpath": "p.yaml"}
        ).json()["jobID"]
        deadline, status = time.monotonic() + 20, {}
        while status.get("status") != "failed" and time.monotonic() < deadline:
            status = client.get(f"/jobs/{job}").json()
            time.sleep(0.05)
        assert status["status"] == "failed" and "secret-location" not in status["message"]
        for path in ("/processes", "/processes/s1_l0?f=html", f"/jobs/{job}/logs", "/dpr/processes/s1_l0"):
            assert "secret-location" not in client.get(path).text, path
        port = url.rsplit(":", 1)[1]
        server_log = (Path(os.environ.get("TMPDIR", "/tmp")) / f"dpr-server-{port}.log").read_text()
        assert "secret-location" in server_log  # the operator learns where it looked


def test_no_answer_names_the_server_software():
    with running_server("--ephemeral") as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.get(path) for path in ("/", "/processes", "/jobs/none", "/nowhere")]
        answers.append(
            client.post("/processes/echo/execution", content=b"{", headers={"content-type": "application/json"})
        )
        assert [a.status_code for a in answers] == [200, 200, 404, 404, 400]
        for answer in answers:
            assert "server" not in answer.headers, answer.request.url  # uvicorn's "server: uvicorn"
            assert answer.headers["date"]  # HTTP asks an origin server with a clock for it


def test_the_sqlite_database_and_its_folder_are_the_service_users_only(tmp_path):
    folder = tmp_path / "data"
    database = folder / "dpr.sqlite"
    env = {"DPR_STORAGE_URL": f"sqlite+aiosqlite:///{database}", "DPR_EXECUTOR_KIND": "fake"}
    with running_server(env=env) as url:
        assert httpx.post(f"{url}/processes/echo/execution", json={"inputs": {"echo": "x"}}).status_code == 200
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    for path in folder.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
