"""Every error, as an OGC exception document: the Litestar exception handlers.

They answer with the problem the one exception-to-response map (``problems``) gives a domain
error, and with a problem of their own for framework errors and unexpected ones; browsers get it
as an HTML page with the same status.
"""

from __future__ import annotations

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from dpr.domain import errors as e
from dpr.domain.errors import DomainError
from dpr.entrypoints.http.negotiation import Format
from dpr.entrypoints.http.problems import DPR, EXC, PROBLEM_JSON, Problem, problem, problem_for
from dpr.entrypoints.http.respond import html_page, requested_format

log = logging.getLogger("dpr.http")
CHALLENGE = "dpr_challenge"
"""The app state key of the ``WWW-Authenticate`` value a 401 carries."""


def _respond(request: Request, p: Problem) -> Response[bytes] | Template:
    """The exception document; browsers asking for HTML get it as a page with the same status."""
    if _wants_html(request):
        return html_page(request, "error.html", {"problem": p.body}, status=p.status, headers=p.headers)
    return Response(
        content=msgspec.json.encode(p.body),
        status_code=p.status,
        media_type=PROBLEM_JSON,
        headers=p.headers,
    )


def _wants_html(request: Request) -> bool:
    try:
        return requested_format(request) is Format.HTML
    except DomainError:  # an unknown ``f`` is itself the error being reported
        return False


def challenge_headers(request: Request, exc: DomainError) -> dict[str, str]:
    """``WWW-Authenticate``, naming the accepted schemes, for a refusal of credentials."""
    if isinstance(exc, e.BadCredentials):
        return {"WWW-Authenticate": request.app.state.get(CHALLENGE, 'Bearer realm="dpr"')}
    return {}


def on_domain_error(request: Request, exc: DomainError) -> Response[bytes] | Template:
    p = problem_for(exc, instance=request.url.path)
    return _respond(request, msgspec.structs.replace(p, headers={**p.headers, **challenge_headers(request, exc)}))


def on_http_error(request: Request, exc: HTTPException) -> Response[bytes] | Template:
    status = exc.status_code
    if isinstance(exc, NotFoundException):
        p = problem(404, DPR + "not-found", "Not found", f"nothing at {request.url.path}", request.url.path)
    elif isinstance(exc, ValidationException):
        p = problem(400, EXC + "invalid-parameter-value", "Invalid request", _validation_detail(exc), request.url.path)
    else:
        p = problem(status, DPR + f"http-{status}", exc.__class__.__name__, str(exc.detail), request.url.path)
    headers = dict(exc.headers or {})
    return _respond(request, msgspec.structs.replace(p, headers={**p.headers, **headers}))


def on_unexpected(request: Request, exc: Exception) -> Response[bytes] | Template:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return _respond(
        request,
        problem(
            500,
            DPR + "internal",
            "Internal error",
            "the server failed unexpectedly; the error is logged",
            request.url.path,
        ),
    )


def _validation_detail(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    reasons = [f"{e.get('key', '?')}: {e.get('message', '')}" for e in extra if isinstance(e, dict)]
    return "; ".join(reasons) or str(exc.detail)


EXCEPTION_HANDLERS: ExceptionHandlersMap = {
    DomainError: on_domain_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}
