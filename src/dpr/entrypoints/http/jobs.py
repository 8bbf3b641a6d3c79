"""``/jobs``: the job list, status, results, dismissal."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter
from litestar.response import ServerSentEvent

from dpr.domain import ogc
from dpr.domain.documents import JobList, JobLogs, Link, LogLine, StatusInfo
from dpr.domain.job_filters import parse_job_query
from dpr.entrypoints.http import pages
from dpr.entrypoints.http.auth import caller_of
from dpr.entrypoints.http.common import base_url, json_response, services
from dpr.entrypoints.http.links import link_header
from dpr.entrypoints.http.negotiation import Format
from dpr.entrypoints.http.outcome import output_response, results_response
from dpr.entrypoints.http.respond import requested_format, respond
from dpr.entrypoints.http.sse import MAX_SEQ, json_lines, log_events, resume_after, wants_event_stream


@get("/jobs", summary="The jobs, newest first", tags=["Jobs"])
async def list_jobs(request: Request) -> Response[JobList]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    fmt, params, base = requested_format(request), request.query_params.dict(), base_url(request, settings)
    query = parse_job_query(params, queries.now())
    doc = ogc.job_list(await queries.list_jobs(query, caller), base, {k: v for k, v in params.items() if k != "f"})
    extras = pages.jobs_page(queries, query, params, base) if fmt is Format.HTML else None
    return respond(request, doc, "jobs.html", extras, fmt=fmt)


@get("/jobs/{job_id:str}", summary="A job's status", tags=["Jobs"])
async def job_status(request: Request, job_id: FromPath[str]) -> Response[StatusInfo]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    fmt, base = requested_format(request), base_url(request, settings)
    job = await queries.status(job_id, caller)
    extras = await pages.job_page(queries, job, base) if fmt is Format.HTML else None
    return respond(request, ogc.status_info(job, base), "job.html", extras, fmt=fmt)


@get("/jobs/{job_id:str}/results", summary="A job's results", tags=["Jobs"])
async def job_results(request: Request, job_id: FromPath[str]) -> Response[Any]:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    fmt, base = requested_format(request), base_url(request, settings)
    job, process = await queries.results(job_id, caller)
    if fmt is Format.HTML:
        doc = ogc.results_document(job, process, base)
        return respond(
            request, doc, "results.html", {"job_id": job.job_id}, fmt=fmt, links=ogc.results_links(job, base)
        )
    return results_response(job, process, base)


@get("/jobs/{job_id:str}/results/{output:str}", summary="One output of a job, by itself", tags=["Jobs"])
async def job_output(request: Request, job_id: FromPath[str], output: FromPath[str]) -> Response[Any]:
    queries = services(request).queries
    caller = caller_of(request)
    job, process = await queries.results(job_id, caller)
    return output_response(job, process, output)


@get(
    "/jobs/{job_id:str}/logs",
    summary="A job's log lines, oldest first",
    tags=["Jobs"],
    responses={
        200: ResponseSpec(
            data_container=JobLogs, description="Request fulfilled, document follows", generate_examples=False
        )
    },
)
async def job_logs(
    request: Request,
    job_id: FromPath[str],
    after: Annotated[int, QueryParameter(ge=-1, le=MAX_SEQ, description="Only lines with a higher seq")] = -1,
    limit: Annotated[int, QueryParameter(ge=1, le=10000)] = 1000,
) -> Response[bytes] | ServerSentEvent:
    svc = services(request)
    queries, settings = svc.queries, svc.settings
    caller = caller_of(request)
    if wants_event_stream(request):  # followed live, as server-sent events, until the job ends
        return await log_events(request, queries, job_id, resume_after(request, after), json_lines, caller)
    job, records = await queries.logs(job_id, after, limit, caller)
    base = base_url(request, settings)
    links = [Link(href=f"{base}/jobs/{job_id}/logs?after={after}&limit={limit}", rel="self", type="application/json")]
    if len(records) == limit:
        links.append(
            Link(
                href=f"{base}/jobs/{job_id}/logs?after={records[-1].seq}&limit={limit}",
                rel="next",
                type="application/json",
            )
        )
    lines = [LogLine(seq=r.seq, at=r.at, level=r.level, line=r.line) for r in records]
    return json_response(
        JobLogs(jobID=job.job_id, status=job.status, logs=lines, links=links), headers={"Link": link_header(links)}
    )


PURGE = QueryParameter(
    description="Also remove an ended job's record, results and logs (without it, DELETE only cancels an "
    "active job, and repeating it changes nothing)"
)


@delete(
    "/jobs/{job_id:str}",
    summary="Dismiss a job (cancel it; with purge=true, remove it once ended)",
    tags=["Jobs"],
    status_code=200,
)
async def dismiss_job(
    request: Request,
    job_id: FromPath[str],
    purge: Annotated[bool, PURGE] = False,
) -> Response[StatusInfo]:
    svc = services(request)
    dismissal, settings = svc.dismissal, svc.settings
    caller = caller_of(request)
    job = await dismissal.dismiss(job_id, caller, purge=purge)
    return respond(request, ogc.status_info(job, base_url(request, settings)), "job.html", fmt=Format.JSON)


ROUTES = [list_jobs, job_status, job_results, job_output, job_logs, dismiss_job]
