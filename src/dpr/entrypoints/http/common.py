"""Small helpers the route modules share: base URL, JSON responses, the service provider."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response
from litestar.datastructures import State
from litestar.di import NamedDependency

from dpr.adapters.settings import Settings
from dpr.services.jobs import JobService

JSON = "application/json"


def provide_jobs(state: State) -> JobService:
    """Litestar dependency: the job service the container built."""
    return state.jobs


def provide_settings(state: State) -> Settings:
    return state.settings


def base_url(request: Request, settings: Settings) -> str:
    """The public root of the API: configured, or derived from the request."""
    return (settings.server.base_url or str(request.base_url)).rstrip("/")


def json_response(
    doc: Any, status: int = 200, headers: dict[str, str] | None = None, media_type: str = JSON
) -> Response[bytes]:
    return Response(content=msgspec.json.encode(doc), status_code=status, media_type=media_type, headers=headers or {})


Jobs = NamedDependency[JobService]
"""Handler parameter type for the job service (injected by name: ``jobs``)."""
Config = NamedDependency[Settings]
"""Handler parameter type for the settings (injected by name: ``settings``)."""
