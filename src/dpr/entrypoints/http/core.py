"""Landing page, conformance, API definition, health (liveness) and readiness."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.response import Redirect

from dpr.domain import ogc
from dpr.domain.documents import ConfClasses, LandingPage
from dpr.domain.errors import Unavailable
from dpr.entrypoints.http.api_doc import api_document
from dpr.entrypoints.http.auth import PUBLIC
from dpr.entrypoints.http.common import base_url, json_response, services
from dpr.entrypoints.http.negotiation import Format
from dpr.entrypoints.http.respond import requested_format, respond


@get("/", summary="Landing page", tags=["Capabilities"], opt=PUBLIC)
async def landing(request: Request) -> Response[LandingPage]:
    settings = services(request).settings
    return respond(
        request,
        ogc.landing_page(base_url(request, settings), settings.server.title, settings.server.description),
        "landing.html",
    )


@get("/conformance", summary="Conformance classes", tags=["Capabilities"], opt=PUBLIC)
async def conformance(request: Request) -> Response[ConfClasses]:
    settings = services(request).settings
    return respond(
        request, ogc.conformance(), "conformance.html", links=ogc.conformance_links(base_url(request, settings))
    )


@get("/api", summary="The API definition (OpenAPI 3.0)", tags=["Capabilities"], include_in_schema=False, opt=PUBLIC)
async def api(request: Request) -> Response[Any]:
    """The OpenAPI 3.0 document; browsers go to its Swagger UI rendering."""
    if requested_format(request) is Format.HTML:
        return Redirect(path="/api/docs")
    return json_response(api_document(request.app), media_type=ogc.OPENAPI_JSON)


@get("/health", summary="Liveness and storage reachability", tags=["Operations"], opt=PUBLIC)
async def health(request: Request) -> dict[str, Any]:
    queries = services(request).queries
    active = await queries.active_count()
    return {"status": "ok", "active_jobs": active, "processes": len(queries.process_ids())}


class Readiness(msgspec.Struct, frozen=True, kw_only=True):
    """Whether this instance takes and runs new jobs now, and if not, why."""

    status: str  # "ready" or "not ready"
    reasons: list[str]


@get(
    "/health/ready",
    summary="Readiness: takes new jobs and runs them",
    description="200 when this instance takes new jobs and its executor runs them; 503 with the reasons "
    "while it starts (jobs are accepted and wait for the cluster), stops, or cannot reach its store. "
    "`/health` is the liveness probe.",
    tags=["Operations"],
    opt=PUBLIC,
    responses={503: ResponseSpec(data_container=Readiness, description="Not ready; the body says why.")},
)
async def ready(request: Request) -> Response[Readiness]:
    queries = services(request).queries
    reasons = request.app.state.lifecycle.not_ready()
    try:
        await queries.active_count()
    except Unavailable as e:
        reasons.append(e.describe())
    status, code = ("not ready", 503) if reasons else ("ready", 200)
    return Response(Readiness(status=status, reasons=reasons), status_code=code)


ROUTES = [landing, conformance, api, health, ready]
