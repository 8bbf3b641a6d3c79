"""What the official OGC test suite (ets-ogcapi-processes10) sends and matches, on a real server."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.integration.server import running_server


@pytest.fixture(scope="module")
def server() -> str:
    with running_server("--ephemeral") as url:
        yield url


def test_a_synchronous_execution_links_its_job_with_rel_monitor_unquoted(server):
    response = httpx.post(f"{server}/processes/echo/execution", json={"inputs": {"echo": "hi"}}, timeout=10)
    assert response.status_code == 200
    job_id = re.search(r"<([^>]*)>;\s*rel=monitor(;|,|$)", response.headers["link"])
    assert job_id is not None and job_id.group(1).startswith(f"{server}/jobs/")
    assert httpx.get(job_id.group(1), timeout=10).json()["status"] == "successful"


def test_the_test_suites_execute_request_with_an_object_given_as_value_succeeds(server):
    body = {"inputs": {"echo": "teststring", "object": {"value": "teststring"}}, "response": "document"}
    response = httpx.post(f"{server}/processes/echo/execution", json=body, timeout=10)
    assert response.status_code == 200, response.text
    assert response.json()["inputs"]["value"]["object"] == {"value": "teststring"}


def test_echo_offers_a_mixed_type_output_and_returns_it(server):
    description = httpx.get(f"{server}/processes/echo", timeout=10).json()
    assert "oneOf" in description["outputs"]["mixed"]["schema"]
    body = {"inputs": {"echo": "x", "mixed": 3}, "outputs": {"mixed": {}}, "response": "document"}
    assert httpx.post(f"{server}/processes/echo/execution", json=body, timeout=10).json() == {"mixed": 3}
