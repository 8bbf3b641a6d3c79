"""What the official OGC test suite (ets-ogcapi-processes10) sends and checks, on echo."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dpr.adapters.settings import OgcSettings, Settings, ephemeral
from dpr.entrypoints.http.app import create_app
from tests.api.conftest import wait_for
from tests.ogc_schemas import check

# The inputs of the ETS's createExecuteJsonNode for echo: an object input given as {"value": ...}.
ETS_INPUTS = {
    "echo": "teststring",
    "number": 1,
    "array": [1],
    "object": {"value": "teststring"},
    "mixed": "teststring",
}


def test_the_test_suites_object_input_is_taken_as_the_object_it_is(client):
    response = client.post("/processes/echo/execution", json={"inputs": ETS_INPUTS, "response": "document"})
    assert response.status_code == 200, response.text
    check(response.json(), "results.yaml")
    assert response.json()["inputs"]["value"]["object"] == {"value": "teststring"}


def test_a_qualified_string_is_still_unwrapped_for_a_string_input(client):
    body = {"inputs": {"echo": {"value": "hi", "mediaType": "text/plain"}}, "outputs": {"echo": {}}, "response": "raw"}
    response = client.post("/processes/echo/execution", json=body)
    assert response.status_code == 200 and response.text == "hi"


def test_echo_describes_a_mixed_type_output_as_a_one_of(client):
    doc = client.get("/processes/echo").json()
    check(doc, "process.yaml")
    assert doc["outputs"]["mixed"]["schema"] == {"oneOf": [{"type": "string"}, {"type": "number"}]}


@pytest.mark.parametrize("value", ["teststring", 42, 2.5])
def test_the_mixed_output_comes_back_as_given_in_a_results_document(client, value):
    body = {"inputs": {"echo": "x", "mixed": value}, "outputs": {"mixed": {}}, "response": "document"}
    response = client.post("/processes/echo/execution", json=body)
    assert response.status_code == 200
    check(response.json(), "results.yaml")
    assert response.json() == {"mixed": value}


@pytest.mark.parametrize("value", ["teststring", 42])
def test_the_mixed_output_comes_back_raw_as_json(client, value):
    body = {"inputs": {"echo": "x", "mixed": value}, "outputs": {"mixed": {}}, "response": "raw"}
    response = client.post("/processes/echo/execution", json=body)
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/json")
    assert response.json() == value


def test_the_mixed_output_by_reference_is_a_link_to_its_value(client):
    wanted = {"mixed": {"transmissionMode": "reference"}}
    raw = client.post(
        "/processes/echo/execution", json={"inputs": {"echo": "x", "mixed": 7}, "outputs": wanted, "response": "raw"}
    )
    assert raw.status_code == 204
    href = re.search(r"<([^>]*/results/mixed)>", raw.headers["link"]).group(1)
    assert client.get(href).json() == 7
    document = client.post(
        "/processes/echo/execution",
        json={"inputs": {"echo": "x", "mixed": 7}, "outputs": wanted, "response": "document"},
    ).json()
    check(document, "results.yaml")
    assert document["mixed"]["type"] == "application/json" and client.get(document["mixed"]["href"]).json() == 7


@pytest.fixture
def configured_client() -> Iterator[TestClient]:
    """The built-in catalogue (mockup async-only) on a server whose default response is a document."""
    settings = ephemeral(Settings(ogc=OgcSettings(response_default="document")))
    with TestClient(create_app(settings), base_url="http://dpr.test") as c:
        yield c


def test_an_async_only_process_asked_for_sync_runs_as_a_job_201(configured_client):
    client = configured_client
    assert client.get("/processes/mockup").json()["jobControlOptions"] == ["async-execute", "dismiss"]
    response = client.post("/processes/mockup/execution", json={"inputs": {"duration": 0}})
    assert response.status_code == 201 and "preference-applied" not in response.headers
    check(response.json(), "statusInfo.yaml")
    done = wait_for(client, response.headers["location"], "successful")
    assert done["jobID"] == response.json()["jobID"]


def test_a_request_naming_no_response_gets_the_configured_default(configured_client):
    client = configured_client
    document = client.post("/processes/echo/execution", json={"inputs": {"echo": "hi"}})
    assert document.status_code == 200 and document.json()["echo"] == "hi"
    check(document.json(), "results.yaml")
    raw = client.post(
        "/processes/echo/execution", json={"inputs": {"echo": "hi"}, "outputs": {"echo": {}}, "response": "raw"}
    )
    assert raw.text == "hi"


def test_the_api_definition_states_the_configured_default_response(configured_client, client):
    for c, default in ((configured_client, "document"), (client, "raw")):
        execute = c.get("/api").json()["components"]["schemas"]["Execute"]
        assert execute["properties"]["response"]["default"] == default


def test_without_configuration_a_request_naming_no_response_is_raw_as_1_0_says(client):
    response = client.post("/processes/echo/execution", json={"inputs": {"echo": "hi"}, "outputs": {"echo": {}}})
    assert response.status_code == 200 and response.text == "hi"
