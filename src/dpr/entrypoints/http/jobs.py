"""``/jobs``: the job list, status, results, dismissal."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Request, Response, delete, get
from litestar.params import FromPath, QueryParameter

from dpr.domain import ogc
from dpr.domain.documents import JobList, JobLogs, Link, LogLine, StatusInfo
from dpr.domain.job_filters import parse_job_query
from dpr.entrypoints.http.common import Config, Jobs, base_url
from dpr.entrypoints.http.outcome import output_response, results_response


@get("/jobs", summary="The jobs, newest first", tags=["Jobs"])
async def list_jobs(request: Request, jobs: Jobs, settings: Config) -> JobList:
    params = request.query_params.dict()
    query = parse_job_query(params, jobs.clock.now())
    page = await jobs.list(query)
    kept = {k: v for k, v in params.items() if k != "cursor"}
    return ogc.job_list(page, base_url(request, settings), kept)


@get("/jobs/{job_id:str}", summary="A job's status", tags=["Jobs"])
async def job_status(request: Request, jobs: Jobs, settings: Config, job_id: FromPath[str]) -> StatusInfo:
    return ogc.status_info(await jobs.status(job_id), base_url(request, settings))


@get("/jobs/{job_id:str}/results", summary="A job's results", tags=["Jobs"])
async def job_results(request: Request, jobs: Jobs, settings: Config, job_id: FromPath[str]) -> Response[Any]:
    job, process = await jobs.results(job_id)
    return results_response(job, process, base_url(request, settings))


@get("/jobs/{job_id:str}/results/{output:str}", summary="One output of a job, by itself", tags=["Jobs"])
async def job_output(jobs: Jobs, job_id: FromPath[str], output: FromPath[str]) -> Response[Any]:
    job, process = await jobs.results(job_id)
    return output_response(job, process, output)


@get("/jobs/{job_id:str}/logs", summary="A job's log lines, oldest first", tags=["Jobs"])
async def job_logs(
    request: Request,
    jobs: Jobs,
    settings: Config,
    job_id: FromPath[str],
    after: Annotated[int, QueryParameter(ge=-1, description="Only lines with a higher seq")] = -1,
    limit: Annotated[int, QueryParameter(ge=1, le=10000)] = 1000,
) -> JobLogs:
    job, records = await jobs.logs(job_id, after, limit)
    base = base_url(request, settings)
    links = [Link(href=f"{base}/jobs/{job_id}/logs?after={after}&limit={limit}", rel="self", type="application/json")]
    if len(records) == limit:
        links.append(Link(href=f"{base}/jobs/{job_id}/logs?after={records[-1].seq}&limit={limit}", rel="next", type="application/json"))
    lines = [LogLine(seq=r.seq, at=r.at, level=r.level, line=r.line) for r in records]
    return JobLogs(jobID=job.job_id, status=job.status, logs=lines, links=links)


@delete("/jobs/{job_id:str}", summary="Dismiss a job (cancel it, or remove it once ended)", tags=["Jobs"], status_code=200)
async def dismiss_job(request: Request, jobs: Jobs, settings: Config, job_id: FromPath[str]) -> StatusInfo:
    return ogc.status_info(await jobs.dismiss(job_id), base_url(request, settings))


ROUTES = [list_jobs, job_status, job_results, job_output, job_logs, dismiss_job]
