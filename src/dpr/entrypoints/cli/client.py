"""A small synchronous client of dpr's HTTP API (OGC API - Processes) that raises typed errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import httpx

from dpr import __version__
from dpr.entrypoints.cli.errors import CliError, Exit, UsageError

JSON = "application/json"
HINTS = {
    "no-such-process": "`dpr processes list` shows the processes",
    "no-such-job": "`dpr jobs list` shows the jobs",
    "result-not-ready": "`dpr jobs watch ID` waits for the job to end",
    "not-found": "is --url the root of a dpr server?",
}


SECRET_HEADERS = {"x-api-key", "authorization"}


def credentials(api_key: str | None, token: str | None) -> dict[str, str]:
    """The headers carrying an API key (``x-api-key``) and a bearer token (an OIDC access token)."""
    headers = {"x-api-key": api_key} if api_key else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return headers


class ApiError(CliError):
    """The server could not be reached or answered with an error.

    Attributes:
        status: the HTTP status, when there was an answer.
        problem: the OGC exception document (``type``, ``title``, ``status``, ``detail``), or ``{}``.
    """

    def __init__(self, message: str, *, status: int | None = None, problem: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status, self.problem = status, problem or {}

    @property
    def kind(self) -> str:
        """The last segment of the problem's type URI (``no-such-job``), or ``""``."""
        return str(self.problem.get("type", "")).rstrip("/").rsplit("/", 1)[-1]


class Unreachable(ApiError):
    exit_code = Exit.UNAVAILABLE


class ServerError(ApiError):
    exit_code = Exit.UNAVAILABLE


class Refused(ApiError):
    exit_code = Exit.REFUSED


class JobFailed(ApiError):
    exit_code = Exit.JOB_FAILED


def error_for(response: httpx.Response) -> ApiError:
    """The typed error for an error response, its message the OGC exception's ``detail``."""
    problem = _problem(response)
    status = response.status_code
    detail = problem.get("detail") or problem.get("title") or _unexplained(response)
    error_type = str(problem.get("type", ""))
    if error_type.endswith("/job-results-failed"):
        return JobFailed(detail, status=status, problem=problem)
    if status == 429:
        wait = response.headers.get("Retry-After")
        later = f"try again in {wait} s" if wait else "try again later"
        return ServerError(f"the server is busy: {detail} ({later})", status=status, problem=problem)
    if status >= 500:
        return ServerError(f"the server failed: {detail} (HTTP {status})", status=status, problem=problem)
    error = Refused(f"{detail} (HTTP {status})", status=status, problem=problem)
    if error.kind in HINTS:
        error.message += f"; {HINTS[error.kind]}"
    return error


def _problem(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _unexplained(response: httpx.Response) -> str:
    """An error without an OGC exception document: most likely not a dpr server."""
    text = " ".join(response.text.split())[:200]
    what = f"{response.request.method} {response.url} answered {response.status_code} {response.reason_phrase}"
    return f"{what}: {text}" if text else f"{what} (is --url the root of a dpr server?)"


def next_link(doc: dict[str, Any]) -> str | None:
    """The ``href`` of the document's ``rel=next`` link, if any."""
    for link in doc.get("links", []):
        if link.get("rel") == "next":
            return str(link["href"])
    return None


class DprClient:
    """The HTTP API of one dpr server. ``trace`` receives each request and response (``--debug``)."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 30.0,
        trace: Callable[[str], None] | None = None,
        api_key: str | None = None,
        token: str | None = None,
    ) -> None:
        self.url, self.timeout, self._trace = url.rstrip("/"), timeout, trace
        hooks = {"request": [self._show_request], "response": [self._show_response]} if trace else {}
        headers = {"Accept": JSON, "User-Agent": f"dpr-cli/{__version__}", **credentials(api_key, token)}
        self._http = httpx.Client(base_url=self.url, timeout=timeout, headers=headers, event_hooks=hooks)  # type: ignore[arg-type]

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        """Send one request; raises ``Unreachable``, ``ServerError``, ``Refused`` or ``JobFailed``."""
        try:
            response = self._http.request(method, path, **kwargs)
        except (httpx.InvalidURL, httpx.UnsupportedProtocol) as e:
            raise UsageError(f"invalid server URL {self.url!r} ({e}). Set --url or DPR_URL.") from e
        except httpx.TimeoutException as e:
            raise Unreachable(self._unreachable(f"no answer within {self.timeout:g} s")) from e
        except httpx.TransportError as e:
            raise Unreachable(self._unreachable(_reason(e))) from e
        if response.is_error:
            raise error_for(response)
        return response

    def get_json(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        response = self.request("GET", path, params=params)
        return self.decode(response)

    def decode(self, response: httpx.Response) -> dict[str, Any]:
        try:
            return dict(response.json())
        except (ValueError, TypeError):
            raise ServerError(f"{response.url} did not answer with JSON: is it a dpr server?") from None

    def collect(
        self, path: str, key: str, params: dict[str, Any] | None = None, limit: int | None = None
    ) -> dict[str, Any]:
        """The document at ``path`` with the ``key`` items of every ``next`` page (up to ``limit``);
        the links are the last page's, so a remaining ``next`` link means there is more."""
        doc = self.get_json(path, params)
        items = list(doc.get(key, []))
        while (limit is None or len(items) < limit) and (href := next_link(doc)):
            doc = self.get_json(href)
            items.extend(doc.get(key, []))
        merged = {**doc, key: items[:limit]}
        if "numberReturned" in merged:
            merged["numberReturned"] = len(merged[key])
        return merged

    def processes(self) -> dict[str, Any]:
        return self.collect("/processes", "processes")

    def process(self, process_id: str) -> dict[str, Any]:
        return self.get_json(f"/processes/{process_id}")

    def execute(self, process_id: str, body: dict[str, Any], *, asynchronous: bool) -> httpx.Response:
        """201 and a statusInfo for a job, or 200 and the results. A synchronous execution
        waits for its answer as long as the server lets it (its sync timeout)."""
        headers = {"Prefer": "respond-async"} if asynchronous else {}
        timeout = httpx.Timeout(self.timeout, read=None if not asynchronous else self.timeout)
        return self.request("POST", f"/processes/{process_id}/execution", json=body, headers=headers, timeout=timeout)

    def jobs(self, params: dict[str, Any], limit: int) -> dict[str, Any]:
        return self.collect("/jobs", "jobs", params, limit)

    def job(self, job_id: str) -> dict[str, Any]:
        return self.get_json(f"/jobs/{job_id}")

    def results(self, job_id: str) -> httpx.Response:
        return self.request("GET", f"/jobs/{job_id}/results")

    def dismiss(self, job_id: str, purge: bool = False) -> dict[str, Any]:
        return self.decode(self.request("DELETE", f"/jobs/{job_id}", params={"purge": "true"} if purge else None))

    def logs(self, job_id: str, after: int | None = None, limit: int = 500) -> dict[str, Any]:
        params = {"limit": limit} | ({"after": after} if after is not None else {})
        return self.get_json(f"/jobs/{job_id}/logs", params)

    def _unreachable(self, reason: str) -> str:
        return f"cannot reach dpr at {self.url} ({reason}). Is the server running? Set --url or DPR_URL."

    def _show_request(self, request: httpx.Request) -> None:
        shown = ((k, "***" if k.lower() in SECRET_HEADERS else v) for k, v in request.headers.items())
        lines = [f"> {request.method} {request.url}", *(f"> {k}: {v}" for k, v in shown)]
        body = request.content.decode(errors="replace") if request.content else ""
        self._trace("\n".join(lines + ([">", body] if body else [])))  # type: ignore[misc]

    def _show_response(self, response: httpx.Response) -> None:
        response.read()
        lines = [
            f"< {response.status_code} {response.reason_phrase}",
            *(f"< {k}: {v}" for k, v in response.headers.items()),
        ]
        self._trace("\n".join(lines + ["<", response.text[:4000]]))  # type: ignore[misc]


def _reason(error: httpx.TransportError) -> str:
    """``connection refused`` from ``[Errno 111] Connection refused``."""
    text = re.sub(r"^\[Errno [-\d]+\]\s*", "", str(error).strip()) or error.__class__.__name__
    return text[:1].lower() + text[1:]
