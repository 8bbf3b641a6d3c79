"""``/dpr``: rs-dpr-service's API, so its clients (rs-client-libraries' ``DprClient``) work
unchanged against dpr. The same jobs as ``/jobs``, in the original's wire format."""

from __future__ import annotations

import logging
from typing import Annotated, Any
from urllib.parse import urlencode

from litestar import Request, Response, Router, delete, get, post
from litestar.exceptions import HTTPException
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath
from litestar.response import ServerSentEvent

from dpr.domain import ogc
from dpr.domain.documents import JobList, Link, ProcessList, StatusInfo
from dpr.domain.errors import DomainError
from dpr.domain.job_filters import parse_job_query
from dpr.domain.mode import Preference
from dpr.domain.query import MAX_LIMIT
from dpr.entrypoints.http.auth import PUBLIC, caller_of
from dpr.entrypoints.http.common import JSON, base_url, json_response, services
from dpr.entrypoints.http.dpr_wire import dpr_problem, dpr_status, parse_execution
from dpr.entrypoints.http.errors import challenge_headers
from dpr.entrypoints.http.guards import require_json
from dpr.entrypoints.http.jobs import PURGE
from dpr.entrypoints.http.problems import problem_for
from dpr.entrypoints.http.sse import log_events, plain_text, resume_after

log = logging.getLogger("dpr.http")
ASYNC = Preference(respond_async=True)  # the original always answered 201 with the new job


@get("/processes", summary="The processes offered")
async def list_processes(request: Request) -> ProcessList:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    base = base_url(request, settings)
    summaries = [ogc.process_summary(p, base) for p in queries.processes()]
    return ProcessList(processes=summaries, links=[_link(base, "/dpr/processes", {}, "self", "List of processes")])


@get("/processes/{process_id:str}", summary="A process's EOPF task table, else its description")
async def describe_process(request: Request, process_id: FromPath[str]) -> Response[Any]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    table = queries.task_table(process_id)
    if table is not None:
        return json_response(table)
    return json_response(ogc.process_document(queries.describe(process_id), base_url(request, settings)))


@post(
    "/processes/{process_id:str}/execution",
    summary="Run a process as a job (original body)",
    status_code=201,
    responses={
        201: ResponseSpec(
            data_container=StatusInfo, description="Document created, URL follows", generate_examples=False
        )
    },
)
async def execute(request: Request, process_id: FromPath[str]) -> Response[bytes]:
    svc = services(request)
    queries, submission, settings = svc.queries, svc.submission, svc.settings
    caller = caller_of(request)
    queries.describe(process_id)  # an unknown process is a 404 before the body is looked at
    require_json(request)
    wire = parse_execution(await request.body(), require_cluster=settings.executor.kind == "gateway")
    run = await submission.execute(process_id, wire.request, ASYNC, placement=wire.placement, caller=caller)
    base = base_url(request, settings)
    return json_response(
        dpr_status(run.job, base), status=201, headers={"Location": f"{base}/dpr/jobs/{run.job.job_id}"}
    )


@get("/jobs", summary="The jobs, newest first (up to 1000 a page)")
async def list_jobs(request: Request) -> JobList:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    params = request.query_params.dict()
    params.setdefault("limit", [str(MAX_LIMIT)])  # the original listed every job at once
    page = await queries.list_jobs(parse_job_query(params, queries.now()), caller)
    base = base_url(request, settings)
    links = [_link(base, "/dpr/jobs", params, "self", "List of jobs")]
    if page.next is not None:
        links.append(_link(base, "/dpr/jobs", {**params, "cursor": [page.next.encode()]}, "next", "Next page"))
    return JobList(jobs=[dpr_status(job, base) for job in page.jobs], links=links)


@get("/jobs/{job_id:str}", summary="A job's status; a successful job's message holds its outputs")
async def job_status(request: Request, job_id: FromPath[str]) -> StatusInfo:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    return dpr_status(await queries.status(job_id, caller), base_url(request, settings))


@get("/jobs/{job_id:str}/results", summary="A successful job's outputs")
async def job_results(request: Request, job_id: FromPath[str]) -> dict[str, Any]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    job, process = await queries.results(job_id, caller)
    return ogc.results_document(job, process, base_url(request, settings))


@get("/jobs/{job_id:str}/logs", summary="A job's log lines as server-sent events, until it ends")
async def job_logs(request: Request, job_id: FromPath[str]) -> ServerSentEvent:
    queries = services(request).queries
    caller = caller_of(request)
    return await log_events(request, queries, job_id, resume_after(request), plain_text, caller)


@delete("/jobs/{job_id:str}", summary="Dismiss a job: its work is cancelled", status_code=200)
async def dismiss_job(request: Request, job_id: FromPath[str], purge: Annotated[bool, PURGE] = False) -> StatusInfo:
    svc = services(request)
    dismissal, settings = svc.dismissal, svc.settings
    caller = caller_of(request)
    return dpr_status(await dismissal.dismiss(job_id, caller, purge=purge), base_url(request, settings))


@get("/_mgmt/ping", summary="Liveness probe", include_in_schema=False, opt=PUBLIC)
async def ping() -> Response[bytes]:
    return json_response("Healthy")


def _link(base: str, path: str, params: dict[str, list[str]], rel: str, title: str) -> Link:
    query = urlencode(params, doseq=True)
    return Link(href=f"{base}{path}{'?' + query if query else ''}", rel=rel, type=JSON, title=title)


def on_domain_error(request: Request, exc: DomainError) -> Response[bytes]:
    p = problem_for(exc)
    headers = {**p.headers, **challenge_headers(request, exc)}
    return json_response(dpr_problem(p.status, exc.describe()), status=p.status, headers=headers)


def on_http_error(request: Request, exc: HTTPException) -> Response[bytes]:
    return json_response(
        dpr_problem(exc.status_code, str(exc.detail)), status=exc.status_code, headers=dict(exc.headers or {})
    )


def on_unexpected(request: Request, exc: Exception) -> Response[bytes]:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return json_response(dpr_problem(500, "the server failed unexpectedly; the error is logged"), status=500)


def routes() -> list[Any]:
    """The ``/dpr`` router (answering errors in the original's shape) and the original's probe."""
    router = Router(
        path="/dpr",
        route_handlers=[
            list_processes,
            describe_process,
            execute,
            list_jobs,
            job_status,
            job_results,
            job_logs,
            dismiss_job,
        ],
        tags=["rs-dpr-service compatibility"],
        exception_handlers={DomainError: on_domain_error, HTTPException: on_http_error, Exception: on_unexpected},
    )
    return [router, ping]
