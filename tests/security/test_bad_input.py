"""Requests that used to be 500s (issue 14, section 4), against a real server on PostgreSQL:
datetimes at the calendar's edges, durations and sequence numbers beyond 64 bits, NUL
characters in ids, process ids and cursors, JSON nested past the recursion limit."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.server import running_server
from tests.security.postgres import fresh_database

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture(scope="module")
def server() -> Iterator[httpx.Client]:
    with fresh_database() as database:
        env = {"DPR_STORAGE_URL": database, "DPR_EXECUTOR_KIND": "fake"}
        with running_server(env=env) as url, httpx.Client(base_url=url, timeout=10) as client:
            yield client


@pytest.fixture(scope="module")
def job_id(server: httpx.Client) -> str:
    response = server.post(
        "/processes/echo/execution", json={"inputs": {"echo": "x"}}, headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 201
    return response.json()["jobID"]


def assert_bad_request(response: httpx.Response, mentions: str) -> None:
    assert response.status_code == 400, response.text
    problem = response.json()
    assert problem["status"] == 400 and mentions in problem["detail"]


@pytest.mark.parametrize(
    "query",
    [
        "datetime=0001-01-01T00:00:00%2B01:00",
        "datetime=9999-12-31T23:59:59-01:00",
        "datetime=../9999-12-31T23:59:59-01:00",
        "minDuration=9000000000000",
        "maxDuration=90000000000000",
        "minDuration=1000000000000000000000",
        "processID=echo%00",
        "status=successful&processID=%00",
        "cursor=abc%00def",
    ],
)
def test_job_list_parameters_at_the_edges_are_refused_with_a_400(server, query):
    assert_bad_request(server.get(f"/jobs?{query}"), "parameter")


@pytest.mark.parametrize(
    "query", ["datetime=0001-01-01T00:00:00%2B01:00", "minDuration=9000000000000", "processID=echo%00"]
)
def test_the_original_job_list_refuses_the_same_parameters(server, query):
    assert_bad_request(server.get(f"/dpr/jobs?{query}"), "parameter")


@pytest.mark.parametrize(
    "path",
    [
        "/jobs/a%00b",
        "/jobs/a%00b/logs",
        "/jobs/a%00b/results",
        "/processes/a%00b",
        "/dpr/jobs/a%00b",
        "/dpr/jobs/a%00b/logs",
        "/dpr/jobs/a%00b/results",
        "/dpr/processes/a%00b",
    ],
)
def test_a_nul_character_in_an_id_is_a_400(server, path):
    assert_bad_request(server.get(path), "NUL")


def test_a_nul_character_in_a_dismissed_id_or_an_executed_process_id_is_a_400(server):
    assert_bad_request(server.delete("/jobs/a%00b"), "NUL")
    assert_bad_request(server.post("/processes/a%00b/execution", json={}), "NUL")
    assert_bad_request(server.delete("/dpr/jobs/a%00b"), "NUL")
    assert_bad_request(server.post("/dpr/processes/a%00b/execution", json={}), "NUL")


@pytest.mark.parametrize("after", [str(2**63), "99999999999999999999999"])
def test_a_log_position_beyond_64_bits_is_a_400(server, job_id, after):
    assert_bad_request(server.get(f"/jobs/{job_id}/logs?after={after}"), "after")
    stream = server.get(f"/jobs/{job_id}/logs", headers={"Accept": "text/event-stream", "Last-Event-ID": after})
    assert_bad_request(stream, "Last-Event-ID")
    assert_bad_request(server.get(f"/dpr/jobs/{job_id}/logs", headers={"Last-Event-ID": after}), "Last-Event-ID")


@pytest.mark.parametrize("depth", [100, 980, 5000])
def test_json_nested_deeper_than_the_limit_is_a_400(server, depth):
    nested = b"[" * depth + b"]" * depth
    for path in ("/processes/echo/execution", "/dpr/processes/echo/execution"):
        body = (
            b'{"inputs": {"echo": ' + nested + b"}}" if path.startswith("/processes") else b'{"echo": ' + nested + b"}"
        )
        response = server.post(path, content=body, headers={"Content-Type": "application/json"})
        assert_bad_request(response, "deeper than 64 levels")


def test_json_nested_within_the_limit_is_accepted(server):
    nested = "[" * 30 + "]" * 30
    body = '{"inputs": {"echo": "' + nested + '"}, "response": "document"}'
    response = server.post("/processes/echo/execution", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
