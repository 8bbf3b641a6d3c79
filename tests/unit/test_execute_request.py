"""Execute requests are checked against the process: a wrong input names itself."""

from __future__ import annotations

import pytest

from dpr.adapters.processors.echo import EchoProcessor
from dpr.adapters.processors.mockup import MockupProcessor
from dpr.domain.errors import InvalidInput
from dpr.domain.execute import ExecuteRequest, ResponseMode
from dpr.domain.process import InputDescription, ProcessDescription
from dpr.domain.validation import RequestValidator, to_json_schema
from dpr.entrypoints.http.bodies import decode_execute_body

ECHO = RequestValidator(EchoProcessor().describe())
MOCKUP = RequestValidator(MockupProcessor().describe())


def check(validator: RequestValidator, body) -> ExecuteRequest:
    """The body decoded as the HTTP edge does, then checked against the process."""
    return validator.check(decode_execute_body(body))


def reason(validator: RequestValidator, body) -> InvalidInput:
    with pytest.raises(InvalidInput) as info:
        check(validator, body)
    return info.value


def test_a_plain_value_is_accepted_and_kept():
    request = check(ECHO, b'{"inputs": {"echo": "hello"}}')
    assert request.inputs == {"echo": "hello"} and request.response is ResponseMode.RAW


@pytest.mark.parametrize(
    "value",
    [
        {"value": "hello", "mediaType": "text/plain"},
        {"href": "https://example.org/hello.txt"},
    ],
    ids=["qualified", "reference"],
)
def test_qualified_values_and_references_are_accepted(value):
    assert check(ECHO, {"inputs": {"echo": value}}).inputs["echo"] == value


def test_every_input_kind_of_the_echo_process_validates():
    inputs = {
        "echo": "x",
        "pause": 0,
        "number": 2.5,
        "array": [1, 2, 3],
        "object": {"a": 1},
        "mixed": 3,
        "bbox": {"bbox": [1, 2, 3, 4], "crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"},
        "binary": {"value": "aGVsbG8=", "mediaType": "application/octet-stream"},
    }
    assert check(ECHO, {"inputs": inputs}).inputs == inputs


def test_a_missing_required_input_is_named():
    error = reason(ECHO, {"inputs": {}})
    assert error.input_id == "echo" and "required" in error.reason


def test_a_value_of_the_wrong_type_is_named_with_the_reason():
    error = reason(ECHO, {"inputs": {"echo": 5}})
    assert error.input_id == "echo" and "not of type 'string'" in error.reason


def test_a_value_out_of_range_is_refused():
    assert reason(MOCKUP, {"inputs": {"duration": -1}}).input_id == "duration"


def test_an_unknown_input_is_refused():
    assert reason(ECHO, {"inputs": {"echo": "x", "nope": 1}}).input_id == "nope"


def test_a_malformed_body_is_an_invalid_input_not_a_crash():
    assert "not valid JSON" in str(reason(ECHO, b"{not json"))
    assert "invalid" in str(reason(ECHO, b'{"inputs": []}'))
    assert "invalid" in str(reason(ECHO, b'{"inputs": {"echo": "x"}, "response": "sideways"}'))


def test_defaults_fill_missing_optional_inputs():
    assert check(MOCKUP, None).inputs == {"duration": 5, "fail": False, "product_type": "S1SEWRAW"}


def test_unknown_outputs_and_transmission_modes_are_refused():
    assert "no output" in str(reason(ECHO, {"inputs": {"echo": "x"}, "outputs": {"nope": {}}}))
    assert "transmissionMode" in str(reason(MOCKUP, {"outputs": {"products": {"transmissionMode": "reference"}}}))
    assert "transmissionMode" in str(
        reason(ECHO, {"inputs": {"echo": "x"}, "outputs": {"echo": {"transmissionMode": "carrier-pigeon"}}})
    )


def test_occurrence_limits_are_enforced_for_multi_valued_inputs():
    process = ProcessDescription(
        id="p", inputs={"x": InputDescription(schema={"type": "integer"}, minOccurs=2, maxOccurs=3)}
    )
    validator = RequestValidator(process)
    assert check(validator, {"inputs": {"x": [1, 2]}}).inputs == {"x": [1, 2]}
    assert "at least 2" in str(reason(validator, {"inputs": {"x": [1]}}))
    assert "at most 3" in str(reason(validator, {"inputs": {"x": [1, 2, 3, 4]}}))
    assert reason(validator, {"inputs": {"x": [1, "two"]}}).input_id == "x"


def test_openapi_30_schema_idioms_are_understood():
    schema = to_json_schema({"type": "number", "nullable": True, "minimum": 0, "exclusiveMinimum": True})
    assert schema == {"type": ["number", "null"], "exclusiveMinimum": 0}
