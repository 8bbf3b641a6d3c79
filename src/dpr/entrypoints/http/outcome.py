"""Turning an execution or a finished job into the response the standard prescribes."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Response

from dpr.domain import ogc
from dpr.domain.documents import Link
from dpr.domain.errors import JobFailedError, NoSuchOutput
from dpr.domain.execute import ResponseMode
from dpr.domain.job import Job
from dpr.domain.mode import Mode
from dpr.domain.process import ProcessDescription
from dpr.domain.status import JobStatus
from dpr.entrypoints.http.common import json_response
from dpr.entrypoints.http.links import link_header, with_alternates
from dpr.entrypoints.http.prefer import preference_applied
from dpr.entrypoints.http.raw import encode_output, raw_results
from dpr.services.submission import Execution


def execution_response(run: Execution, base: str) -> Response[Any]:
    """201 with ``Location`` and statusInfo for async; the results (or the failure) for sync."""
    job, location = run.job, f"{base}/jobs/{run.job.job_id}"
    if run.mode is Mode.ASYNC:
        headers = {"Location": location}
    else:
        headers = {"Link": link_header([Link(href=location, rel="monitor", type=ogc.JSON)])}
    applied = preference_applied(run)
    if applied:
        headers["Preference-Applied"] = applied
    if run.mode is Mode.ASYNC:
        doc = with_alternates(ogc.status_info(job, base))
        return json_response(doc, status=201, headers={**headers, "Link": link_header(doc.links)})
    if job.status is not JobStatus.SUCCESSFUL:
        raise JobFailedError(job.job_id, job.status, job.error or job.message)
    return results_response(job, run.process, base, headers)


def results_response(
    job: Job, process: ProcessDescription | None, base: str, headers: dict[str, str] | None = None
) -> Response[Any]:
    """``document``: the results map as JSON. ``raw``: one output as itself, several as
    multipart; outputs wanted by reference only: 204 with a ``Link`` header per output."""
    headers = dict(headers or {})
    if job.request.response is ResponseMode.DOCUMENT:
        return json_response(ogc.results_document(job, process, base), headers=headers)
    outputs = ogc.selected_outputs(job.request, job.results or {})
    if outputs and all(ogc.by_reference(job.request, name) for name in outputs):
        links = [ogc.output_link(job, name, process, base) for name in outputs]
        extra = [headers["Link"]] if "Link" in headers else []  # keep the sync answer's monitor link
        headers["Link"] = ", ".join([*extra, link_header(links)])
        return Response(content=b"", status_code=204, headers=headers)
    values = {name: value for name, value in outputs.items() if not ogc.by_reference(job.request, name)}
    body = raw_results(values, process, boundary=f"dpr-{uuid.uuid4().hex}")
    return Response(content=body.content, media_type=body.media_type, headers=headers)


def output_response(job: Job, process: ProcessDescription | None, output: str) -> Response[Any]:
    """One output by itself, in its media type (where by-reference links point)."""
    if output not in (job.results or {}):
        raise NoSuchOutput(job.job_id, output)
    body = encode_output(output, (job.results or {})[output], process)
    return Response(content=body.content, media_type=body.media_type)
