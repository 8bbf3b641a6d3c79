"""Turning an execution or a finished job into the response the standard prescribes."""

from __future__ import annotations

from typing import Any

from litestar import Response

from dpr.domain import ogc
from dpr.domain.errors import JobFailedError
from dpr.domain.execute import ResponseMode
from dpr.domain.job import Job
from dpr.domain.prefer import Mode
from dpr.domain.process import ProcessDescription
from dpr.domain.raw import raw_results
from dpr.domain.status import JobStatus
from dpr.entrypoints.http.common import json_response
from dpr.services.jobs import Execution


def execution_response(run: Execution, base: str) -> Response[Any]:
    """201 with ``Location`` and statusInfo for async; the results (or the failure) for sync."""
    job, location = run.job, f"{base}/jobs/{run.job.job_id}"
    headers = {"Location": location} if run.mode is Mode.ASYNC else {"Link": f'<{location}>; rel="monitor"'}
    if run.preference_applied:
        headers["Preference-Applied"] = ", ".join(run.preference_applied)
    if run.mode is Mode.ASYNC:
        return json_response(ogc.status_info(job, base), status=201, headers=headers)
    if job.status is not JobStatus.SUCCESSFUL:
        raise JobFailedError(job.job_id, job.status, job.error or job.message)
    return results_response(job, run.process, headers)


def results_response(job: Job, process: ProcessDescription | None, headers: dict[str, str] | None = None) -> Response[Any]:
    """``document``: the results map as JSON; ``raw``: one output as itself, several as multipart."""
    if job.request.response is ResponseMode.DOCUMENT:
        return json_response(ogc.results_document(job, process), headers=headers)
    outputs = ogc.selected_outputs(job.request, job.results or {})
    body = raw_results(outputs, process)
    return Response(content=body.content, media_type=body.media_type, headers=headers or {})
