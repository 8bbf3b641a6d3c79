"""The pieces of the API definition Litestar cannot infer: the OGC exception schema, the
execute request, the job-list and ``f`` parameters, error responses and response headers.

Written in the subset of OpenAPI shared by 3.0 and 3.1.
"""

from __future__ import annotations

from typing import Any

from dpr.domain.query import MAX_LIMIT
from dpr.domain.status import JobStatus

REF = "#/components/"
HTML = "text/html"
JSON = "application/json"


def ref(kind: str, name: str) -> dict[str, str]:
    return {"$ref": f"{REF}{kind}/{name}"}


SCHEMAS: dict[str, Any] = {
    "Exception": {
        "type": "object",
        "description": "An OGC exception document (RFC 7807, the standard's exception.yaml).",
        "required": ["type"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "detail": {"type": "string"},
            "instance": {"type": "string"},
        },
        "additionalProperties": True,
    },
    "Execute": {
        "type": "object",
        "description": "An execute request (the standard's execute.yaml): input values by input id.",
        "properties": {
            "inputs": {"type": "object", "additionalProperties": True},
            "outputs": {"type": "object", "additionalProperties": ref("schemas", "Output")},
            "response": {"type": "string", "enum": ["raw", "document"], "default": "raw"},
        },
    },
    "Output": {
        "type": "object",
        "properties": {
            "format": {
                "type": "object",
                "properties": {"mediaType": {"type": "string"}, "encoding": {"type": "string"}},
            },
            "transmissionMode": {"type": "string", "enum": ["value", "reference"], "default": "value"},
        },
    },
}


def _query(name: str, schema: dict[str, Any], description: str, explode: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "style": "form",
        "explode": explode,
        "schema": schema,
        "description": description,
    }


PARAMETERS: dict[str, Any] = {
    "f": _query(
        "f",
        {"type": "string", "enum": ["json", "html"]},
        "The representation: JSON (default) or HTML; overrides Accept.",
    ),
    "type": _query(
        "type",
        {"type": "array", "items": {"type": "string", "enum": ["process"]}},
        "Job types (only process).",
        explode=False,
    ),
    "processID": _query(
        "processID", {"type": "array", "items": {"type": "string"}}, "Only jobs of these processes.", explode=False
    ),
    "status": _query(
        "status",
        {"type": "array", "items": {"type": "string", "enum": list(JobStatus)}},
        "Only jobs in these statuses.",
        explode=False,
    ),
    "datetime": _query(
        "datetime", {"type": "string"}, "Creation instant or interval (RFC 3339, `a/b`, `..` for an open end)."
    ),
    "minDuration": _query(
        "minDuration", {"type": "integer", "minimum": 0}, "Only jobs that ran at least this many seconds."
    ),
    "maxDuration": _query(
        "maxDuration", {"type": "integer", "minimum": 0}, "Only jobs that ran at most this many seconds."
    ),
    "limit": _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 10}, "Jobs per page."),
    "cursor": _query("cursor", {"type": "string"}, "Where the page starts: taken from a `next` link."),
    "count": _query("count", {"type": "boolean", "default": False}, "Also count every matching job (numberMatched)."),
    "Prefer": {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "schema": {"type": "string"},
        "description": "RFC 7240: `respond-async` asks for a job (201); `wait=<seconds>` bounds a synchronous run.",
    },
}
JOB_LIST = ["type", "processID", "status", "datetime", "minDuration", "maxDuration", "limit", "cursor", "count", "f"]

HEADERS: dict[str, Any] = {
    "Link": {"description": "The document's links (RFC 8288).", "schema": {"type": "string"}},
    "Location": {"description": "The new job's status URL.", "required": True, "schema": {"type": "string"}},
    "Preference-Applied": {"description": "The Prefer tokens honoured (RFC 7240).", "schema": {"type": "string"}},
    "Retry-After": {"description": "Seconds to wait before trying again.", "schema": {"type": "integer"}},
}


def _error(description: str, *headers: str) -> dict[str, Any]:
    content = {JSON: {"schema": ref("schemas", "Exception")}, HTML: {"schema": {"type": "string"}}}
    response: dict[str, Any] = {"description": description, "content": content}
    if headers:
        response["headers"] = {h: ref("headers", h) for h in headers}
    return response


RESPONSES: dict[str, Any] = {
    "BadRequest": _error("Invalid parameter, input or request (OGC exception)."),
    "NotFound": _error("No such process, job, result or output (OGC exception)."),
    "UnsupportedMediaType": _error("The request body is not declared Content-Type: application/json."),
    "TooManyRequests": _error("Too many outstanding jobs: try again later.", "Retry-After"),
    "ServerError": _error("The job failed, or the server failed unexpectedly (OGC exception)."),
    "Unavailable": _error("Storage or cluster unreachable: try again later.", "Retry-After"),
}
ERROR_RESPONSES = {
    400: "BadRequest",
    404: "NotFound",
    415: "UnsupportedMediaType",
    429: "TooManyRequests",
    500: "ServerError",
    503: "Unavailable",
}

RESULTS_CONTENT = {
    JSON: {"schema": {}},
    "multipart/related": {"schema": {"type": "string"}},
    "*/*": {"schema": {}},
}
