"""Executing a process: check the request, admit the job, hand it to the executor."""

from __future__ import annotations

from collections.abc import Mapping

import msgspec
from msgspec.structs import replace

from dpr.domain.errors import DomainError, Forbidden, NoSuchJob, Overloaded
from dpr.domain.execute import ExecuteBody
from dpr.domain.job import Job
from dpr.domain.mode import Mode, Preference, choose_mode
from dpr.domain.principal import Principal
from dpr.domain.process import ProcessCatalog, ProcessDescription
from dpr.domain.run import LogLimits, Placement, ProcessorRef, WorkOrder
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock, IdGenerator
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.ports.notifier import Notifier
from dpr.services.callbacks import check_subscriber, with_callback_base
from dpr.services.inputs import Inputs
from dpr.services.instance import InstanceIds
from dpr.services.lifecycle import Lifecycle
from dpr.services.records import JobRecords


class Limits(msgspec.Struct, frozen=True, kw_only=True):
    """Admission control: outstanding (accepted + running) jobs allowed before answering 429:
    on the whole service, of one process, of one owner (a caller's subject; every anonymous
    caller is the one owner ``anonymous``). ``None``: no bound."""

    max_active: int | None = None
    max_active_per_process: int | None = None
    max_active_per_owner: int | None = None
    retry_after: int = 5
    sync_timeout: float = 300.0
    log: LogLimits = msgspec.field(default_factory=LogLimits)


class Execution(msgspec.Struct, frozen=True, kw_only=True):
    """What ``execute`` did: the job as it stands and how the request was honoured: answered
    at once as asked (``respond_async_applied``), or after waiting as asked (``wait_applied``,
    the seconds, whether the job ended in time or not)."""

    job: Job
    mode: Mode
    process: ProcessDescription
    respond_async_applied: bool = False
    wait_applied: float | None = None


class Submission:
    """Runs a process as a new job (the ``execute`` use case)."""

    def __init__(
        self,
        *,
        repository: JobRepository,
        executor: Executor,
        catalog: ProcessCatalog,
        processors: Mapping[str, ProcessorRef],
        inputs: Inputs,
        records: JobRecords,
        clock: Clock,
        ids: IdGenerator,
        limits: Limits | None = None,
        notifier: Notifier | None = None,
        instance: InstanceIds | None = None,
        permissions: Mapping[str, frozenset[str]] | None = None,
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.repository, self.executor, self.catalog, self.processors = repository, executor, catalog, processors
        self.inputs, self.records, self.clock, self.ids = inputs, records, clock, ids
        self.limits = limits or Limits()
        self.notifier = notifier
        self.instance = instance  # the service instance that owns (follows) the jobs it submits
        self.permissions = dict(permissions or {})  # process id -> the roles that may run it
        self.lifecycle = lifecycle  # refuses new jobs while this instance stops

    async def execute(
        self,
        process_id: str,
        body: ExecuteBody,
        preference: Preference | None = None,
        *,
        secrets: Mapping[str, str] | None = None,
        owner: str | None = None,
        trace_context: Mapping[str, str] | None = None,
        placement: Placement | None = None,
        base_url: str | None = None,
        caller: Principal | None = None,
    ) -> Execution:
        """Validate the request, create the job, hand it to the executor.

        Synchronous executions wait for the outcome (up to ``Prefer: wait`` or the configured
        timeout, then fall back to asynchronous). A ``caller`` owns the job, and must hold one
        of the roles the process is reserved to, if any. Raises ``NoSuchProcess``,
        ``Forbidden``, ``InvalidInput``, ``Overloaded``, ``Unavailable`` (the instance is stopping).
        """
        if self.lifecycle is not None:
            self.lifecycle.admit()
        preference = preference or Preference()
        process = self.catalog.get(process_id)
        if caller is not None:
            self._authorize(process_id, caller)
            owner = caller.subject
        request = with_callback_base(self.inputs.check(process_id, body), base_url)
        await check_subscriber(self.notifier, request.subscriber)
        inputs = await self.inputs.resolve(process_id, request.inputs)
        mode = choose_mode(process, preference)
        await self._admit(process_id, owner)
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
            log_limits=self.limits.log,
        )
        # Stored with its executor reference when the executor can tell it beforehand: one write.
        job = replace(job, executor_ref=self.executor.reference(order), owner_instance=self._instance())
        await self.repository.add(job)
        self.records.track(job, base_url)
        job = await self._submit(job, order)
        if mode is Mode.ASYNC:
            return Execution(job=job, mode=mode, process=process, respond_async_applied=preference.respond_async)
        # A client may ask to wait less than the server's bound, never longer (``wait=inf``).
        wait = None if preference.wait is None else min(preference.wait, self.limits.sync_timeout)
        timeout = self.limits.sync_timeout if wait is None else wait
        job = await self.records.waiters.wait(job.job_id, timeout, self.repository.get)
        mode = Mode.SYNC if job.is_terminal else Mode.ASYNC  # not ended in time: answered as async
        return Execution(job=job, mode=mode, process=process, wait_applied=wait)

    async def requeue(self, job: Job) -> bool:
        """Submit again a job stored as ``accepted`` that the executor does not know (the
        instance that accepted it stopped before it started), from its stored request. Only
        what was stored goes with it: a job whose request named another cluster (whose
        credentials were never stored) or whose process is gone is not re-queued (False).
        ``job`` is what the take-over read: a job no longer ``accepted`` in the store (dismissed
        meanwhile) is left as it is (True), and one dismissed while it is submitted again is
        cancelled. Raises what the executor's ``submit`` raises, the job then being failed."""
        if job.process_id not in self.processors or job.process_id not in self.catalog:
            return False
        if not await self._still_accepted(job.job_id):
            return True
        order = WorkOrder(
            job_id=job.job_id,
            process_id=job.process_id,
            processor=self.processors[job.process_id],
            inputs=await self.inputs.resolve(job.process_id, job.request.inputs),
        )
        expected = self.executor.reference(order)
        if None not in (expected, job.executor_ref) and expected != job.executor_ref:
            return False  # it was sent elsewhere than an order without a placement goes
        self.records.track(job)
        await self._submit(job, order)
        now = await self._status(job.job_id)
        if now is None or now is JobStatus.DISMISSED:  # its dismissal found nothing to stop yet
            await self.executor.cancel(job)
        return True

    async def _still_accepted(self, job_id: str) -> bool:
        return await self._status(job_id) is JobStatus.ACCEPTED

    async def _status(self, job_id: str) -> JobStatus | None:
        """The stored status of the job, ``None`` once it was purged."""
        try:
            return (await self.repository.get(job_id)).status
        except NoSuchJob:
            return None

    def _instance(self) -> str | None:
        return self.instance.current if self.instance is not None else None

    def _authorize(self, process_id: str, caller: Principal) -> None:
        allowed = self.permissions.get(process_id)
        if not caller.may_use(allowed):
            roles = ", ".join(sorted(allowed or ()))
            raise Forbidden(f"process {process_id!r} may be run by the roles {roles} only")

    async def _admit(self, process_id: str, owner: str | None) -> None:
        """Refuse the job when it would go over a limit: one read of the store for all of them
        (each read serialized behind another would add a round trip to every submission)."""
        lim = self.limits
        per_owner = lim.max_active_per_owner if owner is not None else None
        if lim.max_active is None and lim.max_active_per_process is None and per_owner is None:
            return
        counts = await self.repository.active_counts()
        if owner is not None and per_owner is not None and counts.of_owner(owner) >= per_owner:
            raise Overloaded(
                f"you already have {per_owner} outstanding jobs, the most one client may have; "
                "try again when one has ended",
                lim.retry_after,
            )
        if lim.max_active_per_process is not None and counts.of_process(process_id) >= lim.max_active_per_process:
            raise Overloaded(
                f"process {process_id!r} already has {lim.max_active_per_process} outstanding jobs", lim.retry_after
            )
        if lim.max_active is not None and counts.total >= lim.max_active:
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
