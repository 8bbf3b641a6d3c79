"""Small helpers the route modules share: base URL, JSON responses, the handlers' parameter types."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.di import NamedDependency

from dpr.adapters.settings import Settings
from dpr.domain.principal import Principal
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
    return str(request.base_url).rstrip("/")


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


Queries = NamedDependency[JobQueries]
"""Handler parameter type for the read-only service (injected by name: ``queries``)."""
Submit = NamedDependency[Submission]
"""Handler parameter type for the execute use case (injected by name: ``submission``)."""
Dismiss = NamedDependency[Dismissal]
"""Handler parameter type for the dismiss use case (injected by name: ``dismissal``)."""
Config = NamedDependency[Settings]
"""Handler parameter type for the settings (injected by name: ``settings``)."""
Caller = NamedDependency[Principal]
"""Handler parameter type for the authenticated caller (injected by name: ``caller``)."""
