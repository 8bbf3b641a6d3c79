"""What the official OGC test suite (ets-ogcapi-processes10) sends and checks, on echo."""

from __future__ import annotations

import re

import pytest

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
