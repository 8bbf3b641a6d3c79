"""Small helpers the route modules share: base URL, JSON responses, the handlers' parameter types."""

from __future__ import annotations

from functools import lru_cache
from typing import Any, NamedTuple, cast

import msgspec
from litestar import Request, Response
from litestar.datastructures import URL
from litestar.types import Scope

from dpr.adapters.settings import Settings
from dpr.services.dismissal import Dismissal
from dpr.services.queries import JobQueries
from dpr.services.submission import Submission

JSON = "application/json"


def base_url(request: Request, settings: Settings) -> str:
    """The public root of the API: configured, or derived from the request when its ``Host``
    is trusted (any host when no list is configured). An untrusted request (refused anyway,
    ``host_is_trusted``) gets the first trusted host: a forged header never writes a link."""
    if settings.server.base_url:
        return settings.server.base_url.rstrip("/")
    trusted = settings.server.trusted_hosts
    if trusted and not host_is_trusted(request, trusted):
        return f"{request.url.scheme}://{trusted[0]}{request.scope.get('root_path', '')}".rstrip("/")
    return _request_base(request)


def first_header(request: Request, name: bytes) -> str | None:
    """The first value of header ``name`` (lower case), read from the raw ASGI headers."""
    for key, value in request.scope["headers"]:
        if key == name:
            return value.decode("latin-1")
    return None


def _request_base(request: Request) -> str:
    """``request.base_url`` without its trailing slash: what Litestar derives from the scheme,
    the server, the root path and the ``Host`` header, worked out once per distinct set."""
    scope = request.scope
    server = scope.get("server")
    root = scope.get("app_root_path") or scope.get("root_path", "")
    host = next((value for key, value in scope["headers"] if key == b"host"), b"")
    return _base_of(scope.get("scheme", "http"), tuple(server) if server else None, root, host)


@lru_cache(maxsize=256)  # a client may send any Host: bounded
def _base_of(scheme: str, server: tuple[str, int | None] | None, root: str, host: bytes) -> str:
    headers = [(b"host", host)] if host else []
    scope = {"type": "http", "scheme": scheme, "server": server, "root_path": root, "path": "/", "query_string": b""}
    return str(URL.from_scope(cast("Scope", {**scope, "headers": headers}))).rstrip("/")


def host_is_trusted(request: Request, trusted: list[str]) -> bool:
    """Whether the request's ``Host`` is in ``trusted``: an entry ``name`` allows any port,
    ``name:port`` that port only."""
    host = request.headers.get("host", "").strip().lower()
    name = host.rsplit(":", 1)[0] if not host.endswith("]") else host
    return any(entry.lower() in (host, name) for entry in trusted)


def json_response(
    doc: Any, status: int = 200, headers: dict[str, str] | None = None, media_type: str = JSON
) -> Response[bytes]:
    return Response(content=msgspec.json.encode(doc), status_code=status, media_type=media_type, headers=headers or {})


class Services(NamedTuple):
    """The services handlers use, made once per app by the container and kept in its state.

    Read by the handlers (``services(request)``) rather than injected by Litestar: resolving a
    chain of named dependencies cost a status read about 40 us of CPU in process, a quarter of
    its time outside the store (docs/benchmarks.md).
    """

    settings: Settings
    queries: JobQueries
    submission: Submission
    dismissal: Dismissal


def services(request: Request) -> Services:
    """The app's services (``Services``)."""
    return cast(Services, request.app.state.services)
