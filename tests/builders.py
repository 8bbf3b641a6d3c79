"""Builders with defaults and overrides, so each test says only what matters to it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import msgspec
from msgspec.structs import replace

from dpr.adapters.runner import RunContext
from dpr.domain.execute import ExecuteBody, ExecuteRequest
from dpr.domain.job import Job
from dpr.domain.run import ProcessorRef, WorkOrder
from dpr.domain.status import JobStatus

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def make_job(
    job_id: str = "job-1",
    process_id: str = "echo",
    status: JobStatus = JobStatus.ACCEPTED,
    created: datetime = T0,
    inputs: dict[str, Any] | None = None,
    **changes: Any,
) -> Job:
    """A job driven through the real transitions up to ``status`` (one second apart)."""
    job = Job.accept(
        job_id=job_id, process_id=process_id, request=ExecuteRequest(inputs=inputs or {"echo": "hi"}), now=created
    )
    step = timedelta(seconds=1)
    if status in (JobStatus.RUNNING, JobStatus.SUCCESSFUL, JobStatus.FAILED):
        job = job.start(created + step)
    if status is JobStatus.SUCCESSFUL:
        job = job.succeed(created + 2 * step, {"echo": "hi"})
    elif status is JobStatus.FAILED:
        job = job.fail(created + 2 * step, "it broke")
    elif status is JobStatus.DISMISSED:
        job = job.dismiss(created + 2 * step)
    return replace(job, **changes) if changes else job


def execute_body(document: dict[str, Any] | None = None) -> ExecuteBody:
    """An execute request as the HTTP edge hands it to the submission service."""
    return msgspec.convert(document or {}, ExecuteBody)


def processor_context(secrets: dict[str, str] | None = None) -> tuple[RunContext, list[Any]]:
    """A processor's context for a run of job ``job-1`` (``s1_l0``), and the list its events go to."""
    events: list[Any] = []
    order = WorkOrder(
        job_id="job-1", process_id="s1_l0", processor=ProcessorRef(target="x:Y"), inputs={}, secrets=secrets or {}
    )
    return RunContext(order, events.append, lambda: False), events
