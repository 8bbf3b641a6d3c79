"""Every error, as an OGC exception document: the one exception-to-response map.

How each domain error is told to an HTTP client (status code, OGC type URI, headers) is one
table, used by every route (``/dpr`` too), so the same failure reads the same everywhere.
"""

from __future__ import annotations

import logging

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.response import Template
from litestar.types import ExceptionHandlersMap

from dpr.domain import errors as e
from dpr.domain.documents import OgcException
from dpr.domain.errors import DomainError
from dpr.entrypoints.http.negotiation import Format
from dpr.entrypoints.http.respond import html_page, requested_format

log = logging.getLogger("dpr.http")
PROBLEM_JSON = "application/json"
EXC = "http://www.opengis.net/def/exceptions/ogcapi-processes-1/1.0/"
DPR = "https://dpr.dev/problems/"


class Problem(msgspec.Struct, frozen=True, kw_only=True):
    """An HTTP status, the exception document, and extra headers (``Retry-After``)."""

    status: int
    body: OgcException
    headers: dict[str, str] = msgspec.field(default_factory=dict)


_TABLE: dict[type[e.DomainError], tuple[int, str, str]] = {
    e.NoSuchProcess: (404, EXC + "no-such-process", "No such process"),
    e.NoSuchJob: (404, EXC + "no-such-job", "No such job"),
    e.NoSuchOutput: (404, DPR + "no-such-output", "No such output"),
    e.ResultNotReady: (404, EXC + "result-not-ready", "Result not ready"),
    e.JobFailedError: (500, EXC + "job-results-failed", "The job did not succeed"),
    e.InvalidInput: (400, EXC + "invalid-input", "Invalid input"),
    e.InvalidParameter: (400, EXC + "invalid-parameter-value", "Invalid parameter value"),
    e.NotAllowed: (400, DPR + "not-allowed", "Not allowed"),
    e.InvalidTransition: (409, DPR + "invalid-transition", "Conflict"),
    e.ConcurrentUpdate: (409, DPR + "concurrent-update", "Conflict"),
    e.Overloaded: (429, DPR + "overloaded", "Too many jobs"),
    e.Unavailable: (503, DPR + "unavailable", "Service unavailable"),
    e.BadCredentials: (401, DPR + "unauthenticated", "Authentication required"),
    e.Forbidden: (403, DPR + "forbidden", "Forbidden"),
}
CHALLENGE = "dpr_challenge"
"""The app state key of the ``WWW-Authenticate`` value a 401 carries."""


def problem_for(error: e.DomainError, instance: str | None = None) -> Problem:
    """The HTTP problem for a domain error (unknown subclasses fall back to their base)."""
    for cls in type(error).__mro__:
        if cls in _TABLE:
            status, type_uri, title = _TABLE[cls]
            break
    else:
        status, type_uri, title = 500, DPR + "internal", "Internal error"
    headers = {}
    retry = getattr(error, "retry_after", None)
    if retry is not None:
        headers["Retry-After"] = str(retry)
    body = OgcException(type=type_uri, title=title, status=status, detail=error.describe(), instance=instance)
    return Problem(status=status, body=body, headers=headers)


def problem(status: int, type_uri: str, title: str, detail: str, instance: str | None = None) -> Problem:
    """A problem that has no domain error behind it (an unknown route, a framework error)."""
    return Problem(
        status=status, body=OgcException(type=type_uri, title=title, status=status, detail=detail, instance=instance)
    )


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
