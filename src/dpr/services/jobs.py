"""The job use cases: execute, status, list, results, dismiss, and applying executor events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping
from typing import Any

import msgspec
from msgspec.structs import replace

from dpr.domain.errors import (
    ConcurrentUpdate,
    DomainError,
    InvalidTransition,
    JobFailedError,
    NoSuchJob,
    NotAllowed,
    Overloaded,
    ResultNotReady,
    Unavailable,
)
from dpr.domain.events import AnyEvent, Logged
from dpr.domain.execute import decode_fetched, is_reference
from dpr.domain.job import Job
from dpr.domain.prefer import Mode, Preference, choose_mode
from dpr.domain.process import JobControl, ProcessCatalog, ProcessDescription
from dpr.domain.query import JobPage, JobQuery
from dpr.domain.run import Placement, ProcessorRef, WorkOrder
from dpr.domain.status import JobStatus
from dpr.domain.validation import RequestValidator
from dpr.ports.clock import Clock, IdGenerator
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogRecord
from dpr.ports.notifier import Notifier
from dpr.ports.reference_fetcher import ReferenceFetcher
from dpr.services.callbacks import callback_for, check_subscriber
from dpr.services.waiters import Waiters

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 0.5, 10.0  # seconds between attempts to record an event while the store is down
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
    ) -> None:
        self.repository, self.executor, self.catalog = repository, executor, catalog
        self.processors, self.log_store, self.clock, self.ids = processors, logs, clock, ids
        self.limits = limits or Limits()
        self.fetcher, self.notifier, self.public_base = fetcher, notifier, public_base
        self._bases: dict[str, str] = {}  # where each job's callbacks point their links
        self._validators: dict[str, RequestValidator] = {}
        self._waiters = Waiters()
        # The record last written for each active job submitted here: events about it
        # compare-and-set from this instead of reading the store first.
        self._running: dict[str, Job] = {}

    async def start(self, *, recover: bool = True) -> list[Job]:
        """Open the store, connect the executor and (unless ``recover`` is false) settle jobs
        left active by an earlier run; returns those that were failed because the executor
        lost them."""
        await self.repository.open()
        await self.executor.start(self.apply)
        if not recover:
            return []
        lost = []
        for job in await self.repository.list_active():
            if not await self.executor.adopt(job):
                # It may have ended meanwhile: a server shutting down still records outcomes.
                failed = await self._mutate(job.job_id, lambda j: j if j.is_terminal else j.fail(self.clock.now(), LOST), known=job)
                lost.append(failed)
        return [j for j in lost if j is not None and j.status is JobStatus.FAILED and j.error == LOST]

    async def close(self) -> None:
        await self.executor.close()
        for outbound in (self.fetcher, self.notifier):
            if outbound is not None:
                await outbound.close()

    def validator(self, process_id: str) -> RequestValidator:
        if process_id not in self._validators:
            self._validators[process_id] = RequestValidator(self.catalog.get(process_id))
        return self._validators[process_id]

    async def execute(
        self,
        process_id: str,
        body: bytes | str | dict[str, Any] | None,
        preference: Preference = Preference(),
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
        process = self.catalog.get(process_id)
        request = self.validator(process_id).parse(body)
        await check_subscriber(self.notifier, request.subscriber)
        inputs = await self._resolve_references(process_id, request.inputs)
        mode = choose_mode(process, preference)
        await self._admit(process_id)
        job = Job.accept(job_id=self.ids.new_id(), process_id=process_id, request=request, now=self.clock.now(), owner=owner)
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
        self._running[job.job_id] = job
        if request.subscriber is not None:
            self._bases[job.job_id] = base_url or self.public_base
        job = await self._submit(job, order)
        applied = ["respond-async"] if preference.respond_async and mode is Mode.ASYNC else []
        if mode is Mode.SYNC:
            timeout = self.limits.sync_timeout if preference.wait is None else preference.wait
            job = await self.wait(job.job_id, timeout)
            if not job.is_terminal:
                mode, applied = Mode.ASYNC, (["wait=%g" % preference.wait] if preference.wait is not None else [])
            elif preference.wait is not None:
                applied = ["wait=%g" % preference.wait]
        return Execution(job=job, mode=mode, process=process, preference_applied=applied)

    async def _resolve_references(self, process_id: str, inputs: dict[str, Any]) -> dict[str, Any]:
        """Inputs with every ``{"href": ...}`` replaced by the content it points to, checked
        against the input's schema. Without a fetcher, references pass through unchanged."""
        if self.fetcher is None:
            return inputs
        validator = self.validator(process_id)
        resolved: dict[str, Any] = {}
        for name, value in inputs.items():
            items = value if isinstance(value, list) and any(is_reference(v) for v in value) else None
            if items is not None:
                resolved[name] = [await self._fetch_one(validator, name, v) for v in items]
            else:
                resolved[name] = await self._fetch_one(validator, name, value)
        return resolved

    async def _fetch_one(self, validator: RequestValidator, name: str, value: Any) -> Any:
        if not is_reference(value):
            return value
        assert self.fetcher is not None
        fetched = await self.fetcher.fetch(value["href"])
        content = decode_fetched(fetched.content, fetched.media_type, name)
        validator.check_value(name, content)
        return content

    async def _admit(self, process_id: str) -> None:
        lim = self.limits
        if lim.max_active_per_process is not None:
            if await self.repository.count_active(process_id) >= lim.max_active_per_process:
                raise Overloaded(f"process {process_id!r} already has {lim.max_active_per_process} outstanding jobs", lim.retry_after)
        if lim.max_active is not None and await self.repository.count_active() >= lim.max_active:
            raise Overloaded(f"the server already has {lim.max_active} outstanding jobs", lim.retry_after)

    async def _submit(self, job: Job, order: WorkOrder) -> Job:
        try:
            ref = await self.executor.submit(order)
        except DomainError as e:
            reason = f"could not be submitted: {e}"
            await self._mutate(job.job_id, lambda j: j.fail(self.clock.now(), reason))
            raise
        if ref == job.executor_ref:
            return job
        updated = await self._mutate(job.job_id, lambda j: replace(j, executor_ref=ref, version=j.version + 1))
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
            self._waiters.release(job_id)
            note = f"Removed: the job had ended ({job.status}); its record and results are deleted."
            return replace(job, status=JobStatus.DISMISSED, message=note, results=None)
        if job.process_id in self.catalog and not self.catalog.get(job.process_id).allows(JobControl.DISMISS):
            raise NotAllowed(f"process {job.process_id!r} does not allow dismissing its jobs")
        dismissed = await self._mutate(job_id, lambda j: j if j.is_terminal else j.dismiss(self.clock.now()))
        await self.executor.cancel(job_id)
        return dismissed or job

    async def apply(self, event: AnyEvent) -> None:
        """Record an executor event. Never raises for unknown or finished jobs (late events).

        While the store is unavailable the event is retried with back-off (events of a job
        wait behind it, so their order holds): an outage must not leave a job that finished
        recorded as running forever.
        """
        delay = RETRY_FIRST
        while True:
            try:
                await self._record(event)
                return
            except Unavailable:
                log.warning("store unavailable: event %s of job %s retried in %.1f s", type(event).__name__, event.job_id, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_MAX)

    async def _record(self, event: AnyEvent) -> None:
        if isinstance(event, Logged):
            await self.log_store.append(event.job_id, event.at, event.level, event.line)
            return
        await self._mutate(event.job_id, lambda j: j.apply(event))

    async def wait(self, job_id: str, timeout: float) -> Job:
        """The job once it has ended, or as it stands after ``timeout`` seconds."""
        return await self._waiters.wait(job_id, timeout, self.repository.get)

    async def _mutate(self, job_id: str, change: Callable[[Job], Job], known: Job | None = None) -> Job | None:
        """Change-compare-and-set until it sticks; ``None`` when the job is gone.

        The first attempt starts from ``known``, or from the record this process last wrote for
        a job it runs, without reading the store; the compare-and-set catches a stale guess,
        and the next attempts read.
        """
        guess = known or self._running.get(job_id)
        while True:
            job = guess or await self._read(job_id)
            if job is None:
                self._running.pop(job_id, None)
                return None
            try:
                new = change(job)
            except InvalidTransition:
                if guess is None:
                    raise
                guess = None  # the guess was stale: decide on the stored record
                continue
            if new is job and guess is None:
                return job
            if new is not job and await self._compare_and_set(job, new):
                return new
            guess = None

    async def _compare_and_set(self, old: Job, new: Job) -> bool:
        """Store ``new`` if ``old`` is still the stored version; False if another writer won."""
        try:
            await self.repository.update(new, expected_version=old.version)
        except (ConcurrentUpdate, NoSuchJob):
            return False  # re-read: the job changed, or is gone
        if new.is_terminal:
            self._running.pop(new.job_id, None)
            self._waiters.release(new.job_id)
        elif new.job_id in self._running:
            self._running[new.job_id] = new
        self._call_back(old, new)
        return True

    async def _read(self, job_id: str) -> Job | None:
        try:
            return await self.repository.get(job_id)
        except NoSuchJob:
            return None

    def _call_back(self, old: Job, new: Job) -> None:
        if self.notifier is None or new.request.subscriber is None:
            return
        process = self.catalog.get(new.process_id) if new.process_id in self.catalog else None
        base = self._bases.get(new.job_id, self.public_base)
        call = callback_for(old, new, process, base)
        if call is not None:
            self.notifier.notify(*call)
        if new.is_terminal:
            self._bases.pop(new.job_id, None)
