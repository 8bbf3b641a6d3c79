"""The real server process on 127.0.0.1, driven over HTTP like any client would."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.server import running_server
from tests.ogc_schemas import check
from tests.waiting import holds_for, scaled, wait_for


@pytest.fixture(scope="module")
def server() -> str:
    with running_server("--ephemeral") as url:
        yield url


def poll(client: httpx.Client, url: str, *statuses: str, timeout: float = 60) -> dict:
    def reached() -> dict | None:
        doc = client.get(url).json()
        return doc if doc["status"] in statuses else None

    return wait_for(reached, timeout, f"{url} to be {' or '.join(statuses)}")


def test_a_client_walks_the_readme_story_over_real_http(server):
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        landing = client.get("/")
        assert landing.status_code == 200
        check(landing.json(), "landingPage.yaml")
        assert [p["id"] for p in client.get("/processes").json()["processes"]] == ["echo", "mockup"]

        sync = client.post("/processes/echo/execution", json={"inputs": {"echo": "hello"}, "response": "document"})
        assert sync.status_code == 200 and sync.json()["echo"] == "hello"

        accepted = client.post(
            "/processes/echo/execution",
            json={"inputs": {"echo": "later"}, "response": "document"},
            headers={"Prefer": "respond-async"},
        )
        assert accepted.status_code == 201
        location = accepted.headers["location"]
        assert location.startswith(server + "/jobs/")
        done = poll(client, location, "successful")
        check(done, "statusInfo.yaml")
        assert client.get(location + "/results").json()["echo"] == "later"

        running = client.post(
            "/processes/mockup/execution", json={"inputs": {"duration": 60}}, headers={"Prefer": "respond-async"}
        )
        job_url = running.headers["location"]
        poll(client, job_url, "running")
        assert client.delete(job_url).json()["status"] == "dismissed"
        # the processor notices its flag and reports "failed": the job must stay dismissed
        holds_for(lambda: client.get(job_url).json()["status"] == "dismissed", 1, "the job being dismissed")

        listed = client.get("/jobs", params={"limit": 10}).json()
        check(listed, "jobList.yaml")
        assert len(listed["jobs"]) == 3


def test_garbage_gets_clear_errors_not_tracebacks(server):
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        for response in (
            client.post(
                "/processes/echo/execution", content=b"\xff\xfe garbage", headers={"Content-Type": "application/json"}
            ),
            client.get("/jobs", params={"minDuration": "a while"}),
            client.get("/jobs/../../etc/passwd"),
        ):
            assert 400 <= response.status_code < 500, response.text
            assert response.json()["detail"] and "Traceback" not in response.text
