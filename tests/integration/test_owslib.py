"""OWSLib, the reference Python client of OGC APIs, against a real dpr server process."""

from __future__ import annotations

import httpx
import pytest
from owslib.ogcapi.processes import Processes

from tests.integration.server import running_server
from tests.ogc_schemas import check
from tests.waiting import scaled, wait_for


@pytest.fixture(scope="module")
def server() -> str:
    with running_server("--ephemeral") as url:
        yield url


def test_owslib_lists_and_describes_processes(server):
    api = Processes(server)
    assert {p["id"] for p in api.processes()} == {"echo", "mockup"}
    echo = api.process("echo")
    check(echo, "process.yaml")
    assert echo["inputs"]["echo"]["schema"]["type"] == "string"


def test_owslib_executes_synchronously(server):
    api = Processes(server)
    result = api.execute("echo", inputs={"echo": "from owslib"})  # OWSLib sends Prefer: respond-sync
    assert result["echo"] == "from owslib"
    check(result, "results.yaml")


def test_owslib_executes_asynchronously_and_httpx_follows_the_job(server):
    api = Processes(server)
    status = api.execute("mockup", inputs={"duration": 0.3}, async_=True)
    check(status, "statusInfo.yaml")
    location = api.response_headers["Location"]
    assert location == f"{server}/jobs/{status['jobID']}"
    with httpx.Client(timeout=scaled(30)) as client:
        wait_for(lambda: client.get(location).json()["status"] == "successful", 60, f"{location} to succeed")
        results = client.get(location + "/results").json()
        assert results["products"][0]["type"] == "S1SEWRAW"


def test_owslib_sees_a_clear_error_for_a_bad_input(server):
    api = Processes(server)
    with pytest.raises(RuntimeError, match="input 'echo'"):
        api.execute("echo", inputs={"echo": 42})
