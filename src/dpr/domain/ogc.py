"""Pure functions that turn jobs, pages and processes into OGC API - Processes documents."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import msgspec

from dpr.domain.documents import (
    ConfClasses,
    JobList,
    LandingPage,
    Link,
    Process,
    ProcessList,
    ProcessSummary,
    StatusInfo,
)
from dpr.domain.execute import ExecuteRequest, ResponseMode
from dpr.domain.job import Job
from dpr.domain.process import ProcessDescription
from dpr.domain.query import JobPage
from dpr.domain.status import JobStatus
from dpr.domain.validation import is_qualified_output

JSON = "application/json"
HTML = "text/html"
OPENAPI_JSON = "application/vnd.oai.openapi+json;version=3.0"
REL = "http://www.opengis.net/def/rel/ogc/1.0/"
CONF = "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/"
CONFORMANCE_CLASSES = ("core", "ogc-process-description", "json", "html", "oas30", "job-list", "dismiss", "callback")


def _url(base: str, path: str, params: Mapping[str, Any] | None = None) -> str:
    query = urlencode([(k, v) for k, v in (params or {}).items() if v is not None], doseq=True)
    return f"{base.rstrip('/')}{path}{'?' + query if query else ''}"


def job_links(job: Job, base: str) -> list[Link]:
    """``self`` and ``monitor`` always; the results link only once the job succeeded."""
    here = _url(base, f"/jobs/{job.job_id}")
    links = [
        Link(href=here, rel="self", type=JSON, title="this job's status"),
        Link(href=here, rel="monitor", type=JSON, title="monitor this job"),
    ]
    if job.status is JobStatus.SUCCESSFUL:
        links.append(Link(href=f"{here}/results", rel=f"{REL}results", type=JSON, title="the job's results"))
    return links


def status_info(job: Job, base: str) -> StatusInfo:
    return StatusInfo(
        jobID=job.job_id,
        processID=job.process_id,
        status=job.status,
        type="process",
        message=job.message,
        created=job.created,
        started=job.started,
        finished=job.finished,
        updated=job.updated,
        progress=job.progress,
        links=job_links(job, base),
    )


def job_list(page: JobPage, base: str, params: Mapping[str, Any]) -> JobList:
    """The job list with ``self`` and, when there is more, ``next`` links keeping the filters."""
    params = dict(params)
    links = [Link(href=_url(base, "/jobs", params), rel="self", type=JSON, title="this page")]
    if page.next is not None:
        params["cursor"] = page.next.encode()
        links.append(Link(href=_url(base, "/jobs", params), rel="next", type=JSON, title="next page"))
    return JobList(
        jobs=[status_info(job, base) for job in page.jobs],
        links=links,
        numberMatched=page.number_matched,
        numberReturned=len(page.jobs),
    )


def process_summary(process: ProcessDescription, base: str) -> ProcessSummary:
    here = _url(base, f"/processes/{process.id}")
    return ProcessSummary(
        id=process.id,
        version=process.version,
        title=process.title,
        description=process.description,
        keywords=process.keywords,
        metadata=process.metadata,
        jobControlOptions=process.jobControlOptions,
        outputTransmission=process.outputTransmission,
        links=[
            Link(href=here, rel="self", type=JSON, title="process description"),
            Link(href=f"{here}/execution", rel=f"{REL}execute", type=JSON, title="execute the process"),
        ],
    )


def process_document(process: ProcessDescription, base: str) -> Process:
    """The full process description (``process.yaml``) with its links."""
    summary = process_summary(process, base)
    return Process(**msgspec.structs.asdict(summary), inputs=process.inputs, outputs=process.outputs)


def process_list(processes: list[ProcessDescription], base: str, limit: int, offset: int, total: int) -> ProcessList:
    links = [Link(href=_url(base, "/processes", {"limit": limit, "offset": offset or None}), rel="self", type=JSON)]
    if offset + limit < total:
        links.append(
            Link(href=_url(base, "/processes", {"limit": limit, "offset": offset + limit}), rel="next", type=JSON)
        )
    if offset > 0:
        prev = max(0, offset - limit)
        links.append(
            Link(href=_url(base, "/processes", {"limit": limit, "offset": prev or None}), rel="prev", type=JSON)
        )
    return ProcessList(processes=[process_summary(p, base) for p in processes], links=links)


def landing_page(base: str, title: str, description: str) -> LandingPage:
    return LandingPage(
        title=title,
        description=description,
        links=[
            Link(href=_url(base, "/"), rel="self", type=JSON, title="this document"),
            Link(href=_url(base, "/api"), rel="service-desc", type=OPENAPI_JSON, title="the API definition"),
            Link(href=_url(base, "/api", {"f": "html"}), rel="service-doc", type=HTML, title="the API documentation"),
            Link(href=_url(base, "/conformance"), rel=f"{REL}conformance", type=JSON, title="conformance classes"),
            Link(href=_url(base, "/processes"), rel=f"{REL}processes", type=JSON, title="the processes"),
            Link(href=_url(base, "/jobs"), rel=f"{REL}job-list", type=JSON, title="the jobs"),
        ],
    )


def conformance(classes: tuple[str, ...] = CONFORMANCE_CLASSES) -> ConfClasses:
    return ConfClasses(conformsTo=[CONF + c for c in classes])


def conformance_links(base: str) -> list[Link]:
    """The links of ``/conformance`` (its document has no ``links`` member: they go in headers)."""
    return [Link(href=_url(base, "/conformance"), rel="self", type=JSON, title="this document")]


def results_links(job: Job, base: str) -> list[Link]:
    """The links of a job's results: themselves (JSON for a results document; raw results
    have the type of their outputs), and the job they belong to."""
    here = _url(base, f"/jobs/{job.job_id}")
    kind = JSON if job.request.response is ResponseMode.DOCUMENT else None
    return [
        Link(href=f"{here}/results", rel="self", type=kind, title="the job's results"),
        Link(href=here, rel="up", type=JSON, title="the job"),
    ]


def results_document(job: Job, process: ProcessDescription | None, base: str = "") -> dict[str, Any]:
    """The ``results.yaml`` map of the outputs the request selected (all when none selected);
    outputs asked for by reference are links to ``/jobs/{id}/results/{output}``."""
    doc: dict[str, Any] = {}
    for name, value in selected_outputs(job.request, job.results or {}).items():
        if by_reference(job.request, name):
            doc[name] = msgspec.to_builtins(output_link(job, name, process, base))
        else:
            doc[name] = _inline(name, value, process)
    return doc


def by_reference(request: ExecuteRequest, name: str) -> bool:
    wanted = request.outputs.get(name)
    return wanted is not None and wanted.transmissionMode == "reference"


def output_link(job: Job, name: str, process: ProcessDescription | None, base: str) -> Link:
    desc = process.outputs.get(name) if process else None
    media = desc.media_type if desc else JSON
    return Link(href=_url(base, f"/jobs/{job.job_id}/results/{name}"), rel=f"{REL}results", type=media, title=name)


def selected_outputs(request: ExecuteRequest, outputs: Mapping[str, Any]) -> dict[str, Any]:
    if not request.outputs:
        return dict(outputs)
    return {k: v for k, v in outputs.items() if k in request.outputs}


def _inline(name: str, value: Any, process: ProcessDescription | None) -> Any:
    """One output as ``inlineOrRefData``: objects must be qualified values there (1.0 has no
    bare-object results; a processor's own qualified value stays as it is), strings of a
    non-JSON media type carry it, the rest stay bare."""
    desc = process.outputs.get(name) if process else None
    if isinstance(value, dict):
        if isinstance(value.get("href"), str) or (desc is not None and is_qualified_output(value, desc)):
            return value
        return {"value": value, "mediaType": JSON}
    if desc is None or not isinstance(value, str):
        return value
    media = desc.media_type
    if media in (JSON, "text/plain"):
        return value
    return {"value": value, "mediaType": media}
