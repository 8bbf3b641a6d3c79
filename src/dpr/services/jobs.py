"""The job use cases: execute, status, list, results, dismiss, and applying executor events."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import msgspec
from msgspec.structs import replace

from dpr.domain.errors import DomainError, JobFailedError, NotAllowed, Overloaded, ResultNotReady
from dpr.domain.events import AnyEvent
from dpr.domain.execute import ResponseMode
from dpr.domain.job import Job
from dpr.domain.prefer import Mode, Preference, choose_mode
from dpr.domain.process import JobControl, ProcessCatalog, ProcessDescription
from dpr.domain.query import JobPage, JobQuery
from dpr.domain.run import Placement, ProcessorRef, WorkOrder
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock, IdGenerator
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogRecord
from dpr.ports.notifier import Notifier
from dpr.ports.reference_fetcher import ReferenceFetcher
from dpr.services.callbacks import check_subscriber
from dpr.services.inputs import Inputs
from dpr.services.records import JobRecords

log = logging.getLogger(__name__)

LOST = "the executor no longer knows this job (the cluster was lost or restarted before it finished)"


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Admission control: outstanding (accepted + running) jobs allowed before answering 429."""

    max_active: int | None = None
    max_active_per_process: int | None = None
    retry_after: int = 5
    sync_timeout: float = 300.0


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """What ``execute`` did: the job as it stands and how the request was honoured."""

    job: Job
    mode: Mode
    process: ProcessDescription
    preference_applied: list[str] = msgspec.field(default_factory=list)


class JobService:
    """Runs processes as jobs and keeps their records true to what the executor reports."""

    def __init__(
        self,
        *,
        repository: JobRepository,
        executor: Executor,
        catalog: ProcessCatalog,
        processors: Mapping[str, ProcessorRef],
        logs: JobLogStore,
        clock: Clock,
        ids: IdGenerator,
        limits: Limits | None = None,
        fetcher: ReferenceFetcher | None = None,
        notifier: Notifier | None = None,
        public_base: str = "",
        response_default: ResponseMode = ResponseMode.RAW,
    ) -> None:
        self.repository, self.executor, self.catalog = repository, executor, catalog
        self.processors, self.log_store, self.clock, self.ids = processors, logs, clock, ids
        self.limits = limits or Limits()
        self.notifier = notifier
        self.inputs = Inputs(catalog, fetcher, response_default)
        self.records = JobRecords(repository, logs, catalog, notifier, public_base)

    async def start(self, *, recover: bool = True) -> list[Job]:
        """Open the store, connect the executor and (unless ``recover`` is false) settle jobs
        left active by an earlier run; returns those that were failed because the executor
        lost them."""
        await self.repository.open()
        await self.executor.start(self.records.record)
        if not recover:
            return []
        lost = []
        for job in await self.repository.list_active():
            if not await self.executor.adopt(job):
                # It may have ended meanwhile: a server shutting down still records outcomes.
                failed = await self.records.mutate(
                    job.job_id, lambda j: j if j.is_terminal else j.fail(self.clock.now(), LOST), known=job
                )
                lost.append(failed)
        return [j for j in lost if j is not None and j.status is JobStatus.FAILED and j.error == LOST]

    async def close(self) -> None:
        await self.executor.close()
        await self.inputs.close()
        if self.notifier is not None:
            await self.notifier.close()

    async def execute(
        self,
        process_id: str,
        body: bytes | str | dict[str, Any] | None,
        preference: Preference | None = None,
        *,
        secrets: Mapping[str, str] | None = None,
        owner: str | None = None,
        trace_context: Mapping[str, str] | None = None,
        placement: Placement | None = None,
        base_url: str | None = None,
    ) -> Execution:
        """Validate the request, create the job, hand it to the executor.

        Synchronous executions wait for the outcome (up to ``Prefer: wait`` or the configured
        timeout, then fall back to asynchronous). Raises ``NoSuchProcess``, ``InvalidInput``,
        ``Overloaded``.
        """
        preference = preference or Preference()
        process = self.catalog.get(process_id)
        request = self.inputs.parse(process_id, body)
        await check_subscriber(self.notifier, request.subscriber)
        inputs = await self.inputs.resolve(process_id, request.inputs)
        mode = choose_mode(process, preference)
        await self._admit(process_id)
        job = Job.accept(
            job_id=self.ids.new_id(), process_id=process_id, request=request, now=self.clock.now(), owner=owner
        )
        order = WorkOrder(
            job_id=job.job_id,
            process_id=process_id,
            processor=self.processors[process_id],
            inputs=inputs,
            secrets=dict(secrets or {}),
            trace_context=dict(trace_context or {}),
            placement=placement,
        )
        # Stored with its executor reference when the executor can tell it beforehand: one write.
        job = replace(job, executor_ref=self.executor.reference(order))
        await self.repository.add(job)
        self.records.track(job, base_url)
        job = await self._submit(job, order)
        applied = ["respond-async"] if preference.respond_async and mode is Mode.ASYNC else []
        if mode is Mode.SYNC:
            timeout = self.limits.sync_timeout if preference.wait is None else preference.wait
            job = await self.wait(job.job_id, timeout)
            if not job.is_terminal:
                mode, applied = Mode.ASYNC, ([f"wait={preference.wait:g}"] if preference.wait is not None else [])
            elif preference.wait is not None:
                applied = [f"wait={preference.wait:g}"]
        return Execution(job=job, mode=mode, process=process, preference_applied=applied)

    async def _admit(self, process_id: str) -> None:
        lim = self.limits
        if lim.max_active_per_process is not None:
            if await self.repository.count_active(process_id) >= lim.max_active_per_process:
                raise Overloaded(
                    f"process {process_id!r} already has {lim.max_active_per_process} outstanding jobs", lim.retry_after
                )
        if lim.max_active is not None and await self.repository.count_active() >= lim.max_active:
            raise Overloaded(f"the server already has {lim.max_active} outstanding jobs", lim.retry_after)

    async def _submit(self, job: Job, order: WorkOrder) -> Job:
        try:
            ref = await self.executor.submit(order)
        except DomainError as e:
            reason = f"could not be submitted: {e}"
            await self.records.mutate(job.job_id, lambda j: j.fail(self.clock.now(), reason))
            raise
        if ref == job.executor_ref:
            return job
        updated = await self.records.mutate(job.job_id, lambda j: replace(j, executor_ref=ref, version=j.version + 1))
        return updated or job

    async def status(self, job_id: str) -> Job:
        """The job's current record. Raises ``NoSuchJob``."""
        return await self.repository.get(job_id)

    async def list(self, query: JobQuery) -> JobPage:
        return await self.repository.list(query)

    async def results(self, job_id: str) -> tuple[Job, ProcessDescription | None]:
        """The successful job and its process. Raises ``ResultNotReady`` while it is active,
        ``JobFailedError`` when it failed or was dismissed."""
        job = await self.repository.get(job_id)
        if job.status is JobStatus.SUCCESSFUL:
            return job, self.catalog.get(job.process_id) if job.process_id in self.catalog else None
        if not job.is_terminal or job.status is JobStatus.DISMISSED:
            raise ResultNotReady(job_id, job.status)  # a dismissed job never has results
        raise JobFailedError(job_id, job.status, job.error or job.message)

    async def logs(self, job_id: str, after: int = -1, limit: int = 1000) -> tuple[Job, list[LogRecord]]:
        """The job and its log lines with ``seq > after``. Raises ``NoSuchJob``."""
        job = await self.repository.get(job_id)
        return job, await self.log_store.read(job_id, after, limit)

    async def dismiss(self, job_id: str) -> Job:
        """Cancel an active job (it becomes ``dismissed``), or remove a finished one and its
        results and logs. Returns the job as dismissed. Raises ``NoSuchJob``."""
        job = await self.repository.get(job_id)
        if job.is_terminal:
            await self.repository.delete(job_id)
            await self.log_store.delete(job_id)
            self.records.forget(job_id)
            note = f"Removed: the job had ended ({job.status}); its record and results are deleted."
            return replace(job, status=JobStatus.DISMISSED, message=note, results=None)
        if job.process_id in self.catalog and not self.catalog.get(job.process_id).allows(JobControl.DISMISS):
            raise NotAllowed(f"process {job.process_id!r} does not allow dismissing its jobs")
        dismissed = await self.records.mutate(job_id, lambda j: j if j.is_terminal else j.dismiss(self.clock.now()))
        await self.executor.cancel(job_id)
        return dismissed or job

    async def record(self, events: Sequence[AnyEvent]) -> None:
        """Record a batch of executor events (see ``JobRecords.record``)."""
        await self.records.record(events)

    async def wait(self, job_id: str, timeout: float) -> Job:
        """The job once it has ended, or as it stands after ``timeout`` seconds."""
        return await self.records.waiters.wait(job_id, timeout, self.repository.get)
