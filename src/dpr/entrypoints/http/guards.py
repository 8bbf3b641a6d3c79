"""Checks every request passes before its handler runs, and the one a request body passes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from litestar import Request
from litestar.exceptions import HTTPException

from dpr.domain.errors import InvalidParameter
from dpr.entrypoints.http.common import host_is_trusted


def before_request(identify: Callable[[Request], Awaitable[None]]) -> Callable[[Request], Awaitable[None]]:
    """The one ``before_request`` hook of the app (Litestar keeps only the nearest one): who
    calls first (a request without credentials is a 401 whatever else is wrong with it), then
    what every request must pass."""

    async def check(request: Request) -> None:
        await identify(request)
        await check_request(request)

    return check


async def check_request(request: Request) -> None:
    """What every request must pass before its handler runs."""
    refuse_untrusted_host(request)
    await refuse_nul_bytes(request)


def refuse_untrusted_host(request: Request) -> None:
    """With ``server.trusted_hosts`` configured, a request naming another host is a 400: its
    links (``Location``, ``Link``, pages) would otherwise point wherever the client said."""
    trusted = request.app.state.settings.server.trusted_hosts
    if trusted and not host_is_trusted(request, trusted):
        raise InvalidParameter("Host", "is not a host this server answers for")


async def refuse_nul_bytes(request: Request) -> None:
    """No id, process id, cursor or filter holds a NUL character, and PostgreSQL refuses one
    in any text it is asked to compare: a 400 here rather than a 500 from the database."""
    if "\x00" in request.scope["path"]:
        raise InvalidParameter("path", "contains a NUL character")
    if b"%00" in request.scope["query_string"] or "\x00" in request.scope["query_string"].decode("latin-1"):
        raise InvalidParameter("query", "contains a NUL character")


def require_json(request: Request) -> None:
    """Refuse (415) a body not declared ``application/json`` (or ``application/*+json``).

    A cross-site HTML form can post ``text/plain`` or form bodies without the browser asking
    first; only a declared JSON body needs a CORS pre-flight, which other origins do not pass.
    """
    media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    kind, _, subtype = media_type.partition("/")
    if kind != "application" or not (subtype == "json" or subtype.endswith("+json")):
        shown = media_type or "none"
        raise HTTPException(
            status_code=415, detail=f"the request body must be declared Content-Type: application/json (got {shown})"
        )
