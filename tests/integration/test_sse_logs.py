"""Live job logs from a real server process, read as server-sent events with httpx streaming."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import httpx
import msgspec
import pytest

from tests.integration.server import running_server
from tests.waiting import scaled, wait_for


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--ephemeral") as url:
        yield url


def start_mockup(client: httpx.Client, seconds: float) -> str:
    response = client.post("/dpr/processes/mockup/execution", json={"duration": seconds})
    assert response.status_code == 201
    return response.json()["jobID"]


def read_events(client: httpx.Client, url: str, headers: dict[str, str] | None = None) -> list[dict[str, str]]:
    """Every event of the stream, read as it arrives, until the server closes it."""
    out, current = [], {}
    with client.stream(
        "GET", url, headers=headers or {}, timeout=httpx.Timeout(scaled(10), read=scaled(30))
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for line in response.iter_lines():
            if line:
                field, _, value = line.partition(": ")
                current[field] = value
            elif current:
                out.append(current)
                current = {}
    return out


def test_a_late_subscriber_over_http_gets_every_line_then_the_stream_closes_with_the_job(server):
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        job_id = start_mockup(client, 1.5)
        wait_for(lambda: len(client.get(f"/jobs/{job_id}/logs").json()["logs"]) >= 3, 30, "three log lines")
        assert client.get(f"/dpr/jobs/{job_id}").json()["status"] == "running"
        started = time.monotonic()
        received = read_events(client, f"/dpr/jobs/{job_id}/logs")
        assert time.monotonic() - started < scaled(10)  # it ends with the job, not at a read timeout
        assert [e["id"] for e in received] == [str(seq) for seq in range(11)]
        assert [e["data"] for e in received][-1] == "mockup: step 10/10 done"
        assert client.get(f"/dpr/jobs/{job_id}").json()["status"] == "successful"


def test_the_ogc_stream_sends_json_lines_and_an_end_event_and_resumes_from_last_event_id(server):
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        job_id = start_mockup(client, 0.5)
        received = read_events(client, f"/jobs/{job_id}/logs", {"Accept": "text/event-stream", "Last-Event-ID": "6"})
        lines = [msgspec.json.decode(e["data"]) for e in received if "id" in e]
        assert [line["seq"] for line in lines] == [7, 8, 9, 10] and all(line["level"] == "INFO" for line in lines)
        assert received[-1] == {"event": "end", "data": '{"status":"successful"}'}


def test_streaming_a_log_blocks_no_other_request(server):
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        job_id = start_mockup(client, 3)
        streamed: list[list[dict[str, str]]] = []

        def subscribe() -> None:
            with httpx.Client(base_url=server) as other:
                streamed.append(read_events(other, f"/dpr/jobs/{job_id}/logs"))

        reader = threading.Thread(target=subscribe)
        reader.start()
        # A blocked server would answer /health only once the stream ended: count the answers
        # that came while it was still open (no bound on how fast, so load cannot fail it).
        answered_while_streaming = 0
        while reader.is_alive():
            assert client.get("/health").status_code == 200
            answered_while_streaming += reader.is_alive()
            time.sleep(0.05)
        reader.join()
        assert answered_while_streaming >= 2 and len(streamed[0]) == 11
