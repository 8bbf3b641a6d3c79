"""The API definition's security: the schemes a server with ``auth.methods`` accepts, on every
operation except the public ones, with the 401 (and, for executions, 403) they may answer."""

from __future__ import annotations

import copy
from typing import Any

from dpr.entrypoints.http.api_parts import JSON, ref
from dpr.entrypoints.http.openapi30 import METHODS

PUBLIC_PATHS = frozenset({"/", "/conformance", "/api", "/health", "/health/ready", "/_mgmt/ping"})


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("schemas", "Exception")}}}


def with_security(doc: dict[str, Any], key_header: str) -> dict[str, Any]:
    """``doc`` (OpenAPI 3.0) declaring API keys in ``key_header`` and bearer tokens."""
    out = copy.deepcopy(doc)
    components = out.setdefault("components", {})
    components["securitySchemes"] = {
        "ApiKey": {"type": "apiKey", "in": "header", "name": key_header, "description": "An API key (dpr keys)."},
        "Bearer": {"type": "http", "scheme": "bearer", "description": "An API key as a bearer token."},
    }
    components.setdefault("responses", {}).update(
        Unauthorized=_refusal("Missing or refused credentials (OGC exception; WWW-Authenticate names the schemes)."),
        Forbidden=_refusal("The caller may not run this process (OGC exception)."),
    )
    out["security"] = [{"ApiKey": []}, {"Bearer": []}]
    for path, item in out.get("paths", {}).items():
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            if path in PUBLIC_PATHS:
                operation["security"] = []
                continue
            responses = operation.setdefault("responses", {})
            responses["401"] = ref("responses", "Unauthorized")
            if method == "post" and path.endswith("/execution"):
                responses["403"] = ref("responses", "Forbidden")
    return out
