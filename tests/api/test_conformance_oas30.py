"""Conformance class ``oas30``: ``/api`` is a valid, complete OpenAPI 3.0 document of what the
server really does, with an HTML rendering; the 3.1 -> 3.0 converter, example by example."""

from __future__ import annotations

import re

import pytest
from jsonschema import Draft4Validator
from litestar.testing import TestClient
from openapi_spec_validator import OpenAPIV30SpecValidator

from dpr.adapters.settings import LimitSettings, ProcessSettings, Settings, ephemeral
from dpr.entrypoints.http.app import create_app
from dpr.entrypoints.http.openapi30 import schema_30, to_openapi30
from tests.ogc_schemas import check
from tests.unit.conftest import DEFINITIONS

OAS30 = "application/vnd.oai.openapi+json;version=3.0"
OAS30_CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/oas30"
JOB_LIST_PARAMETERS = {"status", "processID", "type", "datetime", "minDuration", "maxDuration", "limit", "cursor", "f"}


@pytest.fixture
def api(client) -> dict:
    response = client.get("/api")
    assert response.status_code == 200 and response.headers["content-type"] == OAS30
    return response.json()


def parameters(api: dict, path: str, method: str) -> dict[str, dict]:
    """The operation's parameters by name, references resolved."""
    out = {}
    for p in api["paths"][path][method].get("parameters", []):
        p = resolve(api, p)
        out[p["name"]] = p
    return out


def resolve(api: dict, obj: dict) -> dict:
    while "$ref" in obj:
        node = api
        for part in obj["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        obj = node
    return obj


def response(api: dict, path: str, method: str, status: int) -> dict:
    return resolve(api, api["paths"][path][method]["responses"][str(status)])


def test_oas30_is_declared(client):
    assert OAS30_CONF in client.get("/conformance").json()["conformsTo"]


def test_the_api_definition_is_valid_openapi_3_0(api):
    assert api["openapi"] == "3.0.3"
    OpenAPIV30SpecValidator(api).validate()


def test_no_3_1_construct_is_left(api):
    def walk(node, where):
        if isinstance(node, dict):
            if "schema" in where[-1:] or where[-2:-1] == ["schemas"] or "properties" in where[-2:-1]:
                assert not isinstance(node.get("type"), list), where
                assert not {"const", "examples", "prefixItems", "$defs"} & set(node), where
                assert not isinstance(node.get("exclusiveMinimum"), (int, float)) or isinstance(
                    node["exclusiveMinimum"], bool
                ), where
            for key, value in node.items():
                walk(value, [*where, key])
        elif isinstance(node, list):
            for value in node:
                walk(value, where)

    walk(api, ["root"])


def test_every_route_of_the_server_is_in_the_document(client, api):
    documented = {
        re.sub(r":\w+}", "}", route.path)
        for route in client.app.routes
        if any(handler.include_in_schema for handler in route.route_handlers) and not route.path.startswith("/api/docs")
    }
    assert documented | {"/api"} <= set(api["paths"])
    assert {"/", "/conformance", "/processes", "/jobs", "/jobs/{job_id}/results", "/jobs/{job_id}/logs"} <= documented


def test_the_job_list_declares_its_query_parameters(api):
    params = parameters(api, "/jobs", "get")
    assert JOB_LIST_PARAMETERS <= set(params)
    assert params["status"]["schema"]["items"]["enum"] == ["accepted", "running", "successful", "failed", "dismissed"]
    assert params["limit"]["schema"]["maximum"] == 1000 and params["f"]["schema"]["enum"] == ["json", "html"]


def test_execution_declares_prefer_body_and_every_answer(api):
    assert parameters(api, "/processes/{process_id}/execution", "post")["Prefer"]["in"] == "header"
    op = api["paths"]["/processes/{process_id}/execution"]["post"]
    assert {"200", "201", "204", "400", "404", "429", "500", "503"} <= set(op["responses"])
    created = response(api, "/processes/{process_id}/execution", "post", 201)
    assert {"Location", "Preference-Applied", "Link"} <= set(created["headers"])
    assert "Retry-After" in response(api, "/processes/{process_id}/execution", "post", 429)["headers"]
    assert op["requestBody"]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Execute"}


@pytest.mark.parametrize(
    ("path", "method", "codes"),
    [
        ("/", "get", {"200", "400", "500"}),
        ("/processes", "get", {"200", "400", "500"}),
        ("/processes/{process_id}", "get", {"200", "400", "404", "500"}),
        ("/jobs", "get", {"200", "400", "500", "503"}),
        ("/jobs/{job_id}", "get", {"200", "400", "404", "500", "503"}),
        ("/jobs/{job_id}", "delete", {"200", "400", "404", "500", "503"}),
        ("/jobs/{job_id}/results", "get", {"200", "204", "400", "404", "500", "503"}),
        ("/api", "get", {"200", "302", "400", "500"}),
    ],
)
def test_each_operation_lists_its_status_codes_with_the_ogc_exception(api, path, method, codes):
    assert set(api["paths"][path][method]["responses"]) == codes
    for code in codes - {"200", "201", "204", "302"}:
        assert response(api, path, method, int(code))["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Exception"
        }


def test_negotiated_resources_declare_html_and_link_headers(api):
    for path in ("/", "/conformance", "/processes", "/processes/{process_id}", "/jobs", "/jobs/{job_id}"):
        ok = response(api, path, "get", 200)
        assert "text/html" in ok["content"] and "Link" in ok["headers"]
        assert "f" in parameters(api, path, "get")


def test_declared_error_responses_are_what_the_server_sends(client, api):
    exception = {**api["components"]["schemas"]["Exception"], "components": api["components"]}
    for answer, code in (
        (client.get("/jobs", params={"status": "bogus"}), 400),
        (client.get("/processes", params={"limit": 0}), 400),
        (client.get("/jobs/nope"), 404),
        (client.post("/processes/echo/execution", content=b"{", headers={"Content-Type": "application/json"}), 400),
        (client.post("/processes/echo/execution", content=b"{}", headers={"Content-Type": "text/plain"}), 415),
    ):
        assert answer.status_code == code
        Draft4Validator(exception).validate(answer.json())
        check(answer.json(), "exception.yaml")


def test_too_many_jobs_is_a_429_with_retry_after():
    settings = ephemeral(
        Settings(processes=ProcessSettings(definitions=DEFINITIONS), limits=LimitSettings(max_active=0, retry_after=9))
    )
    with TestClient(create_app(settings), base_url="http://dpr.test") as client:
        answer = client.post("/processes/echo/execution", json={"inputs": {"echo": "x"}})
        assert answer.status_code == 429 and answer.headers["retry-after"] == "9"
        check(answer.json(), "exception.yaml")


def test_the_html_rendering_of_the_definition(client):
    for kwargs in ({"params": {"f": "html"}}, {"headers": {"Accept": "text/html"}}):
        redirect = client.get("/api", follow_redirects=False, **kwargs)
        assert redirect.status_code == 302 and redirect.headers["location"].endswith("/api/docs")
    page = client.get("/api/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '"openapi":"3.0.3"' in page.text.replace(" ", "")
    assert client.get("/api", params={"f": "json"}, headers={"Accept": "text/html"}).headers["content-type"] == OAS30


def test_the_landing_page_points_at_both_forms(client):
    links = {link["rel"]: link for link in client.get("/").json()["links"]}
    assert links["service-desc"]["type"] == OAS30 and client.get(links["service-desc"]["href"]).status_code == 200
    assert links["service-doc"]["type"] == "text/html"
    assert client.get(links["service-doc"]["href"]).headers["content-type"].startswith("text/html")


@pytest.mark.parametrize(
    ("schema31", "schema30"),
    [
        ({"type": ["string", "null"]}, {"type": "string", "nullable": True}),
        ({"oneOf": [{"type": "integer"}, {"type": "null"}]}, {"type": "integer", "nullable": True}),
        ({"oneOf": [{"$ref": "#/x"}, {"type": "null"}]}, {"allOf": [{"$ref": "#/x"}], "nullable": True}),
        ({"type": "string", "const": "process"}, {"type": "string", "enum": ["process"]}),
        ({"type": "integer", "examples": [3, 4]}, {"type": "integer", "example": 3}),
        ({"type": "number", "exclusiveMinimum": 0}, {"type": "number", "minimum": 0, "exclusiveMinimum": True}),
        ({"type": "number", "exclusiveMaximum": 9.5}, {"type": "number", "maximum": 9.5, "exclusiveMaximum": True}),
        ({"type": "array", "prefixItems": [{}], "contains": {}, "$schema": "x"}, {"type": "array"}),
        ({"$ref": "#/x", "description": "d"}, {"allOf": [{"$ref": "#/x"}], "description": "d"}),
        (
            {"type": "object", "required": [], "properties": {"const": {"const": 1}}},
            {"type": "object", "properties": {"const": {"enum": [1]}}},
        ),
        (
            {"type": "object", "additionalProperties": {"type": ["integer", "null"]}},
            {"type": "object", "additionalProperties": {"type": "integer", "nullable": True}},
        ),
        ({"type": ["integer", "string"]}, {"anyOf": [{"type": "integer"}, {"type": "string"}]}),
        (True, {}),
    ],
)
def test_the_converter_rewrites_3_1_schemas_as_3_0(schema31, schema30):
    assert schema_30(schema31) == schema30


def test_the_converter_leaves_non_schema_examples_and_the_input_alone():
    doc = {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "summary": "s", "license": {"name": "MIT", "identifier": "MIT"}},
        "webhooks": {},
        "paths": {
            "/x": {
                "get": {
                    "parameters": [
                        {"name": "q", "in": "query", "schema": {"const": 1}, "examples": {"a": {"value": 1}}}
                    ],
                    "responses": {"200": {"description": "ok"}},
                }
            }
        },
    }
    out = to_openapi30(doc)
    assert doc["openapi"] == "3.1.0" and "webhooks" in doc
    assert (
        out["openapi"] == "3.0.3"
        and "webhooks" not in out
        and "summary" not in out["info"]
        and out["info"]["license"] == {"name": "MIT"}
    )
    param = out["paths"]["/x"]["get"]["parameters"][0]
    assert param["schema"] == {"enum": [1]} and param["examples"] == {"a": {"value": 1}}
    OpenAPIV30SpecValidator(out).validate()
