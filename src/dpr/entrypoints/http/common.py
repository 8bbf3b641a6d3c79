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
    """The public root of the API: configured, or derived from the request."""
    return (settings.server.base_url or str(request.base_url)).rstrip("/")


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
