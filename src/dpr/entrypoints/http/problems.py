"""How each domain error is told to an HTTP client: the one exception-to-response map.

Status code, OGC type URI, title and headers of every failure, as an OGC exception document, in
one table used by every route (``/dpr`` too), so the same failure reads the same everywhere.
The Litestar handlers that answer with these are in ``errors``.
"""

from __future__ import annotations

import msgspec

from dpr.domain import errors as e
from dpr.domain.documents import OgcException

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
