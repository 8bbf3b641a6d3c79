"""Landing page, conformance, API definition, health."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.response import Redirect

from dpr.domain import ogc
from dpr.domain.documents import ConfClasses, LandingPage
from dpr.entrypoints.http.common import Config, Jobs, base_url, json_response


@get("/", summary="Landing page", tags=["Capabilities"])
async def landing(request: Request, settings: Config) -> LandingPage:
    return ogc.landing_page(base_url(request, settings), settings.server.title, settings.server.description)


@get("/conformance", summary="Conformance classes", tags=["Capabilities"])
async def conformance() -> ConfClasses:
    return ogc.conformance()


def wants_html(request: Request) -> bool:
    if request.query_params.get("f") == "html":
        return True
    accept = request.headers.get("accept", "")
    return "text/html" in accept and request.query_params.get("f") != "json"


@get("/api", summary="The API definition (OpenAPI)", tags=["Capabilities"], include_in_schema=False)
async def api(request: Request) -> Response[Any]:
    if wants_html(request):
        return Redirect(path="/api/docs")
    return json_response(request.app.openapi_schema.to_schema(), media_type=ogc.OPENAPI_JSON)


@get("/health", summary="Liveness and storage reachability", tags=["Operations"])
async def health(jobs: Jobs) -> dict[str, Any]:
    active = await jobs.repository.count_active()
    return {"status": "ok", "active_jobs": active, "processes": len(jobs.catalog)}


ROUTES = [landing, conformance, api, health]
