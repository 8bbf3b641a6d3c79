"""Authentication at the HTTP edge: credentials from headers, the caller for the handlers.

Every route asks who calls except the public ones (``opt={"public": True}``: the landing page,
conformance, the API definition and its renderings, the health probes), which say nothing
about any job. A ``before_request`` hook identifies the caller through the ``Identification`` service and
keeps the principal in the connection's state, where the ``caller`` dependency reads it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from litestar import Request
from litestar.connection import ASGIConnection

from dpr.domain.principal import ANONYMOUS, Principal
from dpr.ports.authenticator import Credentials
from dpr.services.identity import Identification

PUBLIC = {"public": True}
"""``opt`` of a route anyone may call."""
_STATE_KEY = "dpr_principal"
SESSION_COOKIE = "dpr_session"
"""The cookie the sign-in page sets: the API key, for the HTML pages (see ``signin``)."""


def credentials(connection: ASGIConnection, key_header: str) -> Credentials:
    """The API key header (else the session cookie) and the bearer token of ``Authorization``
    (the first of each), read from the raw ASGI headers: no header object is built for it."""
    authorization, key = _first_headers(connection.scope["headers"], key_header.lower().encode("latin-1"))
    scheme, _, token = authorization.strip().partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" and token.strip() else None
    key = key or (None if bearer else connection.cookies.get(SESSION_COOKIE))
    return Credentials(api_key=key or None, bearer=bearer)


def _first_headers(headers: Iterable[tuple[bytes, bytes]], key_name: bytes) -> tuple[str, str | None]:
    authorization: str | None = None
    key: str | None = None
    for name, value in headers:
        lowered = name.lower()
        if lowered == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif lowered == key_name and key is None:
            key = value.decode("latin-1")
    return authorization or "", key


def signed_in(connection: ASGIConnection) -> Principal | None:
    """Who the hook identified, for the pages (``None`` on public routes and when anonymous)."""
    principal = connection.scope.get("state", {}).get(_STATE_KEY)
    return None if principal is None or principal is ANONYMOUS else principal


def challenge(identification: Identification, key_header: str) -> str:
    """The ``WWW-Authenticate`` value: every scheme the server accepts."""
    offered = ['Bearer realm="dpr"']
    if "ApiKey" in identification.schemes:
        offered.append(f'ApiKey realm="dpr", header="{key_header}"')
    return ", ".join(offered)


def is_public(request: Request) -> bool:
    # The OpenAPI renderings (/api/docs...) are Litestar's own handlers, without our opt.
    return bool(request.route_handler.opt.get("public")) or request.scope["path"].startswith("/api/docs")


def identify_caller(identification: Identification, key_header: str) -> Callable[[Request], Awaitable[None]]:
    """The app-wide check that identifies the caller of every non-public route (``BadCredentials``
    -> 401, ``Unavailable`` -> 503, through the exception map), before the handler's
    dependencies are resolved. A ``before_request`` hook, not a Litestar guard: Litestar copies
    the route handler for every guard call (4 % of the CPU of a job status request)."""

    async def identify(request: Request) -> None:
        if identification.anonymous or is_public(request):
            principal = ANONYMOUS if identification.anonymous else None
        else:
            principal = await identification.identify(credentials(request, key_header))
        request.scope.setdefault("state", {})[_STATE_KEY] = principal

    return identify


def caller_of(request: Request) -> Principal:
    """The principal the hook identified (public routes have none: they must not ask)."""
    principal = request.scope.get("state", {}).get(_STATE_KEY)
    if principal is None:
        raise RuntimeError("no caller on a public route: a public handler must not act on jobs")
    return principal
