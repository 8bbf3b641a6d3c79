"""An input item valid as given is the value; only otherwise is it read as a qualified value."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from dpr.domain.process import InputDescription, OutputDescription, ProcessDescription
from dpr.domain.qualified import item_value, schema_accepts
from dpr.domain.validation import RequestValidator
from dpr.entrypoints.http.raw import encode_output
from tests.builders import execute_body

JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-1000, 1000) | st.text(alphabet='abvé \n"{', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(["value", "a", "b"]), inner, max_size=3)
    ),
    max_leaves=8,
)
TYPES = {type(None): "null", bool: "boolean", int: "integer", str: "string", list: "array", dict: "object"}
OTHER = st.sampled_from([{"type": "string"}, {"type": "number"}, {"type": "object"}, {"type": "array"}])


@st.composite
def schema_accepting(draw: st.DrawFn, value: Any) -> dict[str, Any]:
    """A random schema that ``value`` is valid against: its type, narrowed or loosened."""
    kind = draw(st.sampled_from(["exact", "any", "oneOf", "anyOf"]))
    exact: dict[str, Any] = {"type": TYPES[type(value)]}
    if isinstance(value, dict) and value and draw(st.booleans()):
        exact["properties"] = {k: draw(schema_accepting(v)) for k, v in value.items()}
        exact["required"] = sorted(draw(st.sets(st.sampled_from(sorted(value)))))
    if isinstance(value, list) and value and draw(st.booleans()):
        exact["minItems"] = len(value)
    if kind == "any":
        return {}
    if kind in ("oneOf", "anyOf"):
        other = draw(OTHER)
        if kind == "oneOf" and schema_accepts(other)(value):
            return exact
        return {kind: [exact, other]}
    return exact


@st.composite
def valid_pairs(draw: st.DrawFn) -> tuple[dict[str, Any], Any]:
    value = draw(JSON_VALUES)
    return draw(schema_accepting(value)), value


def validator_for(schema: dict[str, Any]) -> RequestValidator:
    return RequestValidator(ProcessDescription(id="p", inputs={"x": InputDescription(schema=schema)}))


@given(valid_pairs())
def test_a_value_valid_as_given_is_never_rejected_and_reaches_the_processor_unchanged(pair):
    schema, value = pair
    validator = validator_for(schema)
    request = validator.check(execute_body({"inputs": {"x": value}}))
    if not (isinstance(value, dict) and isinstance(value.get("href"), str)):
        assert validator.plain_inputs(request.inputs) == {"x": value}


@given(valid_pairs(), st.sampled_from([{}, {"mediaType": "application/json"}, {"mediaType": "text/plain"}]))
def test_a_qualified_wrapper_of_a_valid_value_is_accepted(pair, qualifiers):
    schema, value = pair
    wrapper = {"value": value, **qualifiers}
    validator = validator_for(schema)
    request = validator.check(execute_body({"inputs": {"x": wrapper}}))
    expected = wrapper if schema_accepts(schema)(wrapper) else value
    assert validator.plain_inputs(request.inputs) == {"x": expected}


def test_the_object_the_ogc_test_suite_sends_is_an_object_not_a_qualified_string():
    validator = validator_for({"type": "object"})
    request = validator.check(execute_body({"inputs": {"x": {"value": "teststring"}}}))
    assert validator.plain_inputs(request.inputs) == {"x": {"value": "teststring"}}


def test_a_qualified_string_for_a_string_input_is_unwrapped():
    validator = validator_for({"type": "string"})
    request = validator.check(execute_body({"inputs": {"x": {"value": "hi", "mediaType": "text/plain"}}}))
    assert validator.plain_inputs(request.inputs) == {"x": "hi"}


def test_every_value_of_an_input_taking_several_is_read_by_the_same_rule():
    process = ProcessDescription(
        id="p", inputs={"x": InputDescription(schema={"type": "object"}, maxOccurs="unbounded")}
    )
    validator = RequestValidator(process)
    given_ = [{"value": "a"}, {"value": {"b": 1}, "mediaType": "application/json"}]
    assert validator.plain_inputs(validator.check(execute_body({"inputs": {"x": given_}})).inputs) == {"x": given_}
    assert item_value({"value": "a"}, schema_accepts({"type": "string"})) == "a"


def test_a_processor_s_qualified_output_goes_out_raw_in_its_own_media_type():
    process = ProcessDescription(id="p", outputs={"o": OutputDescription(schema={"type": "string"})})
    body = encode_output("o", {"value": "<a/>", "mediaType": "application/xml"}, process)
    assert body.media_type == "application/xml" and body.content == b"<a/>"
