"""What the HTML pages show beyond their JSON document: a job's log and results, list filters."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urlencode

from dpr.domain import ogc
from dpr.domain.job import Job
from dpr.domain.query import JobQuery
from dpr.domain.status import JobStatus
from dpr.services.queries import JobQueries

LOG_LINES = 1000


async def job_page(queries: JobQueries, job: Job, base: str) -> dict[str, Any]:
    """The job page's extras: its log so far, its results once successful, its error."""
    _, records = await queries.logs(job.job_id, -1, LOG_LINES)
    successful = job.status is JobStatus.SUCCESSFUL
    return {
        "active": not job.is_terminal,
        "logs": records,
        "logs_href": f"{base}/jobs/{quote(job.job_id, safe='')}/logs?limit={LOG_LINES}",
        "results": ogc.selected_outputs(job.request, job.results or {}) if successful else None,
        "error": job.error,
        "duration": job.duration(queries.now()),
    }


def jobs_page(queries: JobQueries, query: JobQuery, params: Mapping[str, Sequence[str]], base: str) -> dict[str, Any]:
    """The job list page's extras: the filter form's choices and the first page's address."""
    first = [(k, v) for k, values in params.items() if k not in ("cursor", "f") for v in values]
    return {
        "query": query,
        "statuses": list(JobStatus),
        "process_ids": queries.process_ids(),
        "first": f"{base}/jobs?{urlencode([*first, ('f', 'html')])}",
    }
