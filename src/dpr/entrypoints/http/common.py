"""Small helpers the route modules share: base URL, encoded JSON responses, the app's services."""

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
    return Encoded(content=msgspec.json.encode(doc), status_code=status, media_type=media_type, headers=headers or {})


class Encoded(Response[bytes]):
    """A response whose body is bytes already, sent as they are with its headers.

    Litestar turns a ``Response`` into an ``ASGIResponse`` that copies every header into a
    header view, then looks ``content-type`` and ``content-length`` up in it header by header,
    and encodes them all again when it sends: on a status read, with its long ``Link`` header,
    about a tenth of the time the request spent in Python. This one hands Litestar an ASGI
    callable with the raw headers made once. A route or layer that adds its own headers,
    cookies or background tasks gets Litestar's response as before.
    """

    def to_asgi_response(
        self, app: Any, request: Request, *, headers: dict[str, str] | None = None, cookies: Any = None, **rest: Any
    ) -> Any:
        if headers or cookies or self.cookies or self.background or rest.get("background"):
            return super().to_asgi_response(app, request, headers=headers, cookies=cookies, **rest)
        body = self.content
        status = self.status_code or 200
        media = str(self.media_type or JSON)
        if media.startswith("text/"):  # as Litestar would
            media = f"{media}; charset={self.encoding}"
        raw = [(b"content-type", media.encode("latin-1"))]
        if status >= 200 and status not in (204, 304):
            raw.append((b"content-length", b"%d" % len(body)))
        else:
            body = b""
        raw.extend((name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in self.headers.items())
        return _Sent(status, raw, body)


class _Sent:
    """The ASGI callable of an ``Encoded`` response: its start message, then its body."""

    __slots__ = ("_body", "_start")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes) -> None:
        self._start = {"type": "http.response.start", "status": status, "headers": headers}
        self._body = {"type": "http.response.body", "body": body, "more_body": False}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(self._start)
        await send(self._body)


class Services(NamedTuple):
    """The services handlers use, made once per app by the container and kept in its state.

    Read by the handlers (``services(request)``) rather than injected by Litestar, which
    resolved a chain of up to five named dependencies on every request (a coroutine and a
    signature check each). Without them, and with ``Encoded`` answers, a status read runs about
    half the instructions it did in process (callgrind, docs/benchmarks.md).
    """

    settings: Settings
    queries: JobQueries
    submission: Submission
    dismissal: Dismissal


def services(request: Request) -> Services:
    """The app's services (``Services``)."""
    return cast(Services, request.app.state.services)
