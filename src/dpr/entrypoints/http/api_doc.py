"""The API definition ``/api`` serves: Litestar's document, completed and turned into OpenAPI 3.0.

Litestar knows the paths, path parameters and success schemas. This module adds what it cannot
see: parameters handlers read themselves (the job-list filters, ``f``, ``Prefer``), the execute
request body, every status code with the OGC exception schema, and response headers. Routes it
has no entry for still get the error responses their shape implies (404 with path parameters,
503 where storage is involved, 500 everywhere).
"""

from __future__ import annotations

import copy
from typing import Any

from litestar import Litestar, Request, Router
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path  # type: ignore[import-untyped]  # ships no py.typed

from dpr.domain.ogc import OPENAPI_JSON
from dpr.entrypoints.http.api_parts import (
    ERROR_RESPONSES,
    HEADERS,
    HTML,
    JOB_LIST,
    PARAMETERS,
    RESPONSES,
    RESULTS_CONTENT,
    SCHEMAS,
    ref,
)
from dpr.entrypoints.http.api_security import with_security
from dpr.entrypoints.http.openapi30 import METHODS, to_openapi30

EXECUTION = "/processes/{process_id}/execution"
NEGOTIATED = frozenset(
    {"/", "/conformance", "/processes", "/processes/{process_id}", "/jobs", "/jobs/{job_id}", "/jobs/{job_id}/results"}
)
WITH_LINKS = frozenset(
    {
        ("/", "get"),
        ("/conformance", "get"),
        ("/processes", "get"),
        ("/processes/{process_id}", "get"),
        ("/jobs", "get"),
        ("/jobs/{job_id}", "get"),
        ("/jobs/{job_id}", "delete"),
        ("/jobs/{job_id}/logs", "get"),
    }
)
STORAGE = ("/jobs", EXECUTION, "/health", "/dpr")
READY = "/health/ready"
EXTRA_ERRORS = {(EXECUTION, "post"): {400, 429}, ("/jobs/{job_id}", "delete"): {400}}
EVENT_STREAMS = {"/jobs/{job_id}/logs": False, "/dpr/jobs/{job_id}/logs": True}  # path: streams only
EVENT_STREAM = {
    "text/event-stream": {
        "schema": {
            "type": "object",
            "description": "A server-sent event: one per log line (``id`` its seq), until the job ends.",
            "properties": {
                "data": {"type": "string"},
                "event": {"type": "string"},
                "id": {"type": "string"},
                "retry": {"type": "integer"},
            },
        }
    }
}


def api_document(app: Litestar) -> dict[str, Any]:
    """The OpenAPI 3.0 definition of ``app``, with its processes as path examples (and its
    security schemes when it requires authentication)."""
    settings = app.state.settings
    doc = to_openapi30(
        complete(app.openapi_schema.to_schema(), app.state.queries.process_ids(), settings.ogc.response_default)
    )
    return doc if settings.auth.anonymous else with_security(doc, settings.auth)


def complete(
    generated: dict[str, Any], process_ids: list[str] | None = None, response_default: str = "raw"
) -> dict[str, Any]:
    """``generated`` with every parameter, status code, response and header dpr really uses;
    ``response_default`` is the response mode of a request naming none (``ogc.response_default``)."""
    doc = copy.deepcopy(generated)
    examples = {pid: {"value": pid} for pid in (process_ids or [])[:5]}
    components = doc.setdefault("components", {})
    for kind, parts in (
        ("schemas", SCHEMAS),
        ("parameters", PARAMETERS),
        ("headers", HEADERS),
        ("responses", RESPONSES),
    ):
        components.setdefault(kind, {}).update(copy.deepcopy(parts))
    components["schemas"]["Execute"]["properties"]["response"]["default"] = response_default
    paths = doc.setdefault("paths", {})
    paths["/api"] = _api_path()
    for path, item in paths.items():
        for method in METHODS:
            if isinstance(item.get(method), dict) and path != "/api":
                _operation(path, method, item[method])
                _process_examples(item[method], examples)
    return doc


def _process_examples(op: dict[str, Any], examples: dict[str, Any]) -> None:
    for param in op.get("parameters", []):
        if examples and param.get("in") == "path" and param.get("name") == "process_id":
            param["examples"] = copy.deepcopy(examples)


def _operation(path: str, method: str, op: dict[str, Any]) -> None:
    responses = {code: r for code, r in op.get("responses", {}).items() if str(code).startswith("2")}
    ok = responses.get("200")
    if method == "get" and path in NEGOTIATED:
        _add_params(op, ["f"])
        if ok is not None:
            ok.setdefault("content", {})[HTML] = {"schema": {"type": "string"}}
    if path == "/jobs" and method == "get":
        _add_params(op, JOB_LIST)
    if ok is not None and (path, method) in WITH_LINKS:
        ok.setdefault("headers", {})["Link"] = ref("headers", "Link")
    if path == EXECUTION and method == "post":
        _execution(op, responses)
    if path.startswith("/jobs/{job_id}/results") and method == "get" and ok is not None:
        ok["content"] = {
            **copy.deepcopy(RESULTS_CONTENT),
            **({HTML: ok["content"][HTML]} if HTML in ok.get("content", {}) else {}),
        }
        ok["description"] = "The results: a JSON document, one output as itself, or several as multipart."
    if path in EVENT_STREAMS and method == "get" and ok is not None:
        ok["content"] = {**({} if EVENT_STREAMS[path] else ok.get("content", {})), **copy.deepcopy(EVENT_STREAM)}
    if path == "/jobs/{job_id}/results" and method == "get":
        responses["204"] = {
            "description": "Every selected output is by reference: one Link header each.",
            "headers": {"Link": ref("headers", "Link")},
        }
    for code in sorted(_errors(path, method, op)):
        responses[str(code)] = ref("responses", ERROR_RESPONSES[code])
    if path == READY and "503" in op.get("responses", {}):  # the readiness document, not an exception
        responses["503"] = op["responses"]["503"]
    op["responses"] = responses


def _errors(path: str, method: str, op: dict[str, Any]) -> set[int]:
    params = op.get("parameters", [])
    codes = {500} | EXTRA_ERRORS.get((path, method), set())
    if any(p.get("in") == "path" for p in params):
        codes.add(404)
    if any(p.get("in") == "query" or "$ref" in p for p in params) or method in ("post", "put", "patch"):
        codes.add(400)
    if method == "post" and path.endswith("/execution"):
        codes.add(415)
    if path.startswith(STORAGE):
        codes.add(503)
    return codes


def _execution(op: dict[str, Any], responses: dict[str, Any]) -> None:
    _add_params(op, ["Prefer"])
    body = {"schema": ref("schemas", "Execute"), "example": {"inputs": {}, "response": "document"}}
    op["requestBody"] = {"required": True, "content": {"application/json": body}}
    headers = {"Link": ref("headers", "Link"), "Preference-Applied": ref("headers", "Preference-Applied")}
    responses["200"] = {
        "description": "Synchronous execution: the results.",
        "headers": headers,
        "content": copy.deepcopy(RESULTS_CONTENT),
    }
    responses["201"] = {
        "description": "Asynchronous execution: the job was created; its status follows.",
        "headers": {"Location": ref("headers", "Location"), **headers},
        "content": {"application/json": {"schema": ref("schemas", "StatusInfo")}},
    }
    responses["204"] = {"description": "Synchronous execution whose outputs are all by reference.", "headers": headers}


def _add_params(op: dict[str, Any], names: list[str]) -> None:
    params = op.setdefault("parameters", [])
    present = {p.get("name") for p in params} | {p.get("$ref", "").rsplit("/", 1)[-1] for p in params}
    params.extend(ref("parameters", name) for name in names if name not in present)


def _api_path() -> dict[str, Any]:
    return {
        "get": {
            "tags": ["Capabilities"],
            "summary": "The API definition (OpenAPI 3.0)",
            "operationId": "Api",
            "parameters": [ref("parameters", "f")],
            "responses": {
                "200": {
                    "description": "This document, or (HTML) its Swagger UI rendering.",
                    "content": {OPENAPI_JSON: {"schema": {"type": "object"}}, HTML: {"schema": {"type": "string"}}},
                },
                "302": {
                    "description": "Browsers are sent to the Swagger UI rendering.",
                    "headers": {"Location": ref("headers", "Location")},
                },
                "400": ref("responses", "BadRequest"),
                "500": ref("responses", "ServerError"),
            },
        }
    }


DOCS_ASSETS = "/api/docs/assets"


def docs_assets() -> Router:
    """Swagger UI's scripts, styles and icons, served by dpr so ``/api/docs`` works offline."""
    return create_static_files_router(
        path=DOCS_ASSETS, directories=[swagger_ui_path], name="docs-assets", include_in_schema=False
    )


class SwaggerUI30(SwaggerRenderPlugin):
    """Litestar's Swagger UI (``/api/docs``), showing the same 3.0 definition ``/api`` serves,
    with its assets from ``DOCS_ASSETS`` rather than a CDN."""

    def __init__(self, path: str = "/") -> None:
        super().__init__(
            path=path,
            js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
            favicon=f"<link rel='icon' type='image/png' href='{DOCS_ASSETS}/favicon-32x32.png'>",
        )

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        default = request.app.state.settings.ogc.response_default
        return super().render(
            request, to_openapi30(complete(openapi_schema, request.app.state.queries.process_ids(), default))
        )
