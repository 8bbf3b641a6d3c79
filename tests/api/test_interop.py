"""What the official OGC test suite (ets-ogcapi-processes10) sends and checks, on echo."""

from __future__ import annotations

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
