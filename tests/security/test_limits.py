"""Resource limits a shared service needs (issue 14, section 3), against real servers: a bound
on outstanding jobs by default, on the whole service and per owner, and ``Prefer: wait`` never
holding a request past the server's own bound."""

from __future__ import annotations

import json
import sys
import time

import httpx
import yaml

from tests.integration.server import running_server
from tests.integration.test_cli import dpr
from tests.waiting import scaled

SLOW = {"inputs": {"duration": 60}}
ASYNC = {"Prefer": "respond-async"}


def test_outstanding_jobs_are_bounded_by_default():
    # one owner may hold 16 by default: here every caller is anonymous, so lift that bound
    env = {"DPR_LIMITS_MAX_ACTIVE_PER_OWNER": "100"}
    with running_server("--ephemeral", env=env) as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [
            client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": "respond-async"}).status_code
            for _ in range(40)
        ]
        assert answers.count(201) == 32 and answers[32:] == [429] * 8
        refused = client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": "respond-async"})
        assert refused.status_code == 429 and "retry-after" in refused.headers


def overloaded(response: httpx.Response) -> bool:
    """A 429 with Retry-After and an OGC exception document saying why."""
    document = response.json()
    return (
        response.status_code == 429
        and int(response.headers["retry-after"]) > 0
        and document["status"] == 429
        and "outstanding jobs" in document["detail"]
        and response.headers["content-type"].startswith("application/json")
    )


def test_anonymous_callers_are_one_owner_bounded_by_default_on_both_routes():
    with running_server("--ephemeral") as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [client.post("/processes/mockup/execution", json=SLOW, headers=ASYNC) for _ in range(16)]
        assert [a.status_code for a in answers] == [201] * 16
        assert overloaded(client.post("/processes/mockup/execution", json=SLOW, headers=ASYNC))
        assert overloaded(client.post("/dpr/processes/mockup/execution", json=SLOW["inputs"]))
        client.delete(f"/jobs/{answers[0].json()['jobID']}")
        assert client.post("/processes/mockup/execution", json=SLOW, headers=ASYNC).status_code == 201


def test_one_owner_cannot_take_every_slot_others_still_get_in(tmp_path):
    """Two API keys, two owners: alice holds her 3, bob still gets in; the service's own bound
    still counts everyone's jobs."""
    config = tmp_path / "dpr.yaml"
    settings = {
        "storage": {"url": f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"},
        "executor": {"kind": "fake"},
        "auth": {"methods": ["api_key"]},
        "limits": {"max_active": 5, "max_active_per_owner": 3, "retry_after": 11},
    }
    config.write_text(yaml.safe_dump(settings))
    keys = {}
    for owner in ("alice", "bob", "carol"):
        made = dpr("keys", "create", "--config", str(config), "--owner", owner, "--json")
        assert made.returncode == 0, made.stderr
        keys[owner] = json.loads(made.stdout)["key"]
    with running_server("--config", str(config)) as url, httpx.Client(base_url=url, timeout=30) as client:

        def submit(owner: str) -> httpx.Response:
            headers = {**ASYNC, "x-api-key": keys[owner]}
            return client.post("/processes/mockup/execution", json=SLOW, headers=headers)

        assert [submit("alice").status_code for _ in range(3)] == [201] * 3
        refused = submit("alice")
        assert overloaded(refused) and refused.headers["retry-after"] == "11"
        assert "3 outstanding jobs" in refused.json()["detail"]
        assert [submit("bob").status_code for _ in range(2)] == [201] * 2
        assert overloaded(submit("carol"))  # the service holds 5: its own bound
        assert "the server already has 5" in submit("carol").json()["detail"]


def test_prefer_wait_is_clamped_to_the_servers_sync_timeout(tmp_path):
    # mockup is async-only as shipped: here it offers sync execution too, so a wait applies.
    mockup = {
        "id": "mockup",
        "processor": "dpr.adapters.processors.mockup:MockupProcessor",
        "job_control": ["sync-execute", "async-execute", "dismiss"],
    }
    config = tmp_path / "dpr.yaml"
    config.write_text(yaml.safe_dump({"processes": {"definitions": [mockup]}}))
    with running_server("--ephemeral", "--config", str(config), env={"DPR_LIMITS_SYNC_TIMEOUT": "1"}) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            for wait in ("inf", "100000"):
                started = time.monotonic()
                answer = client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": f"wait={wait}"})
                assert time.monotonic() - started < 10
                assert answer.status_code == 201 and answer.headers["preference-applied"] == "wait=1"


def test_a_chatty_processor_fills_its_log_only_up_to_the_caps(tmp_path):
    """Lines longer than ``max_log_line`` are cut; after ``max_log_lines`` one notice says the
    rest was dropped."""
    chatty = {"argv": [sys.executable, "-c", "print('y' * 1000); [print(i) for i in range(500)]"]}
    definition = {"id": "chatty", "processor": "dpr.adapters.processors.command:CommandProcessor", "options": chatty}
    config = tmp_path / "dpr.yaml"
    config.write_text(yaml.safe_dump({"processes": {"definitions": [definition]}}))
    env = {"DPR_LIMITS_MAX_LOG_LINE": "100", "DPR_LIMITS_MAX_LOG_LINES": "50"}
    with running_server("--ephemeral", "--config", str(config), env=env) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            job = client.post("/processes/chatty/execution", json={}, headers={"Prefer": "respond-async"}).json()
            deadline = time.monotonic() + 30
            while client.get(f"/jobs/{job['jobID']}").json()["status"] != "successful":
                assert time.monotonic() < deadline
                time.sleep(0.05)
            lines = [entry["line"] for entry in client.get(f"/jobs/{job['jobID']}/logs").json()["logs"]]
    assert len(lines) == 51 and "at most 50 lines" in lines[-1]  # 50 kept, then the notice
    assert "y" * 100 + "... [900 more characters cut]" in lines


def test_a_large_result_renders_a_short_page_that_links_to_the_json():
    big = "[" + ", ".join(f'{{"row": {i}, "payload": "{"x" * 40}"}}' for i in range(5000)) + "]"  # 300 kB
    with running_server("--ephemeral") as url, httpx.Client(base_url=url, timeout=60) as client:
        job = client.post(
            "/processes/echo/execution",
            json={"inputs": {"echo": big}, "response": "document"},
            headers={"Prefer": "respond-async"},
        ).json()["jobID"]
        deadline = time.monotonic() + 30
        while client.get(f"/jobs/{job}").json()["status"] != "successful":
            assert time.monotonic() < deadline
            time.sleep(0.05)
        for page in (client.get(f"/jobs/{job}", params={"f": "html"}), client.get(f"/jobs/{job}/results?f=html")):
            assert page.status_code == 200 and len(page.content) < 100_000
            assert "Cut short" in page.text and f"/jobs/{job}/results?f=json" in page.text
        assert client.get(f"/jobs/{job}/results", params={"f": "json"}).json()["echo"] == big


def test_log_streams_are_capped_per_client_and_closed_when_idle():
    env = {"DPR_LIMITS_MAX_STREAMS_PER_CLIENT": "2", "DPR_LIMITS_STREAM_IDLE_TIMEOUT": "2"}
    stream = {"Accept": "text/event-stream"}
    with running_server("--ephemeral", env=env) as url, httpx.Client(base_url=url, timeout=30) as client:
        job = client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": "respond-async"}).json()
        logs = f"/jobs/{job['jobID']}/logs"
        with client.stream("GET", logs, headers=stream) as first, client.stream("GET", logs, headers=stream) as second:
            assert first.status_code == second.status_code == 200
            refused = client.get(logs, headers=stream)
            assert refused.status_code == 429 and "retry-after" in refused.headers
            assert client.get(f"/dpr/jobs/{job['jobID']}/logs").status_code == 429
        idle = open_stream_when_a_slot_is_free(client, logs, stream)  # the server sees the close a moment later
        started = time.monotonic()  # mockup logs a line every 6 s: quiet for 2 s, a stream ends
        try:
            for _ in idle.iter_bytes():
                pass
        finally:
            idle.close()
        assert time.monotonic() - started < scaled(20)
        open_stream_when_a_slot_is_free(client, logs, stream).close()  # both slots are free again


def open_stream_when_a_slot_is_free(client: httpx.Client, path: str, headers: dict[str, str]) -> httpx.Response:
    """A 200 stream of ``path``, asked again while the server still counts closed streams (429)."""
    deadline = time.monotonic() + scaled(10)
    while True:
        response = client.send(client.build_request("GET", path, headers=headers), stream=True)
        if response.status_code == 200:
            return response
        response.close()
        assert response.status_code == 429 and time.monotonic() < deadline, response.status_code
        time.sleep(0.1)
