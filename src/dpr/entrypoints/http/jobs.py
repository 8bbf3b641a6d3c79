"""``/jobs``: the job list, status, results, dismissal."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get

from dpr.adapters.settings import Settings
from dpr.domain import ogc
from dpr.domain.documents import JobList, StatusInfo
from dpr.domain.job_filters import parse_job_query
from dpr.entrypoints.http.common import base_url
from dpr.entrypoints.http.outcome import results_response
from dpr.services.jobs import JobService


@get("/jobs", summary="The jobs, newest first", tags=["Jobs"])
async def list_jobs(request: Request, jobs: JobService, settings: Settings) -> JobList:
    params = request.query_params.dict()
    query = parse_job_query(params, jobs.clock.now())
    page = await jobs.list(query)
    kept = {k: v for k, v in params.items() if k != "cursor"}
    return ogc.job_list(page, base_url(request, settings), kept)


@get("/jobs/{job_id:str}", summary="A job's status", tags=["Jobs"])
async def job_status(request: Request, jobs: JobService, settings: Settings, job_id: str) -> StatusInfo:
    return ogc.status_info(await jobs.status(job_id), base_url(request, settings))


@get("/jobs/{job_id:str}/results", summary="A job's results", tags=["Jobs"])
async def job_results(jobs: JobService, job_id: str) -> Response[Any]:
    job, process = await jobs.results(job_id)
    return results_response(job, process)


@delete("/jobs/{job_id:str}", summary="Dismiss a job (cancel it, or remove it once ended)", tags=["Jobs"], status_code=200)
async def dismiss_job(request: Request, jobs: JobService, settings: Settings, job_id: str) -> StatusInfo:
    return ogc.status_info(await jobs.dismiss(job_id), base_url(request, settings))


ROUTES = [list_jobs, job_status, job_results, dismiss_job]
