"""OWSLib, the reference Python client of OGC APIs, against a real dpr server process: an
anonymous one, and one requiring API keys (OWSLib sends them as extra headers)."""

from __future__ import annotations

import httpx
import pytest
from owslib.ogcapi.processes import Processes

from tests.integration.server import keyed_server, running_server
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


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, str]:
    with keyed_server(tmp_path_factory.mktemp("owslib-keyed")) as (url, key):
        yield url, key


def test_owslib_without_a_key_is_refused(keyed):
    url, _ = keyed
    with pytest.raises(RuntimeError, match="401|nauthori|Authentication required"):
        Processes(url).processes()


@pytest.mark.parametrize("scheme", ["x-api-key", "bearer"])
def test_owslib_with_a_key_header_lists_executes_and_follows_its_job(keyed, scheme):
    url, key = keyed
    headers = {"x-api-key": key} if scheme == "x-api-key" else {"Authorization": f"Bearer {key}"}
    api = Processes(url, headers=headers)
    assert {p["id"] for p in api.processes()} == {"echo", "mockup"}
    assert api.execute("echo", inputs={"echo": "keyed"})["echo"] == "keyed"
    status = api.execute("mockup", inputs={"duration": 0.2}, async_=True)
    location = api.response_headers["Location"]
    with httpx.Client(timeout=scaled(30), headers=headers) as client:
        wait_for(lambda: client.get(location).json()["status"] == "successful", 60, f"{location} to succeed")
        assert status["jobID"] in [j["jobID"] for j in client.get(f"{url}/jobs").json()["jobs"]]
        assert httpx.get(location, timeout=scaled(30)).status_code == 401
