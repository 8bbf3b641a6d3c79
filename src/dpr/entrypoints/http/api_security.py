"""The API definition's security: the schemes a server with ``auth.methods`` accepts, on every
operation except the public ones, with the 401 (and, for executions, 403) they may answer."""

from __future__ import annotations

import copy
from typing import Any

from dpr.adapters.settings import AuthSettings
from dpr.entrypoints.http.api_parts import JSON, ref
from dpr.entrypoints.http.openapi30 import METHODS

PUBLIC_PATHS = frozenset({"/", "/conformance", "/api", "/health", "/health/ready", "/_mgmt/ping"})


def _refusal(description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": ref("schemas", "Exception")}}}


def schemes(auth: AuthSettings) -> dict[str, Any]:
    """The security schemes of ``auth.methods``: API keys in their header, and bearer tokens
    (API keys, OpenID Connect access tokens, or both)."""
    keys, oidc = "api_key" in auth.methods, "oidc" in auth.methods
    bearer = " or ".join(
        [*(["an API key"] if keys else []), *([f"an access token of {auth.oidc.issuer}"] if oidc else [])]
    )
    found: dict[str, Any] = {}
    if keys:
        found["ApiKey"] = {
            "type": "apiKey",
            "in": "header",
            "name": auth.api_key_header,
            "description": "An API key (dpr keys).",
        }
    found["Bearer"] = {"type": "http", "scheme": "bearer", "description": f"{bearer[0].upper()}{bearer[1:]}."}
    if oidc:
        found["Bearer"]["bearerFormat"] = "JWT"
    return found


def with_security(doc: dict[str, Any], auth: AuthSettings) -> dict[str, Any]:
    """``doc`` (OpenAPI 3.0) declaring the schemes ``auth`` accepts."""
    out = copy.deepcopy(doc)
    components = out.setdefault("components", {})
    components["securitySchemes"] = schemes(auth)
    components.setdefault("responses", {}).update(
        Unauthorized=_refusal("Missing or refused credentials (OGC exception; WWW-Authenticate names the schemes)."),
        Forbidden=_refusal("The caller may not run this process (OGC exception)."),
    )
    out["security"] = [{name: []} for name in components["securitySchemes"]]
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
