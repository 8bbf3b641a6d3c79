"""Dismissing a job: cancel it while active; remove it and its results and logs once ended, on request."""

from __future__ import annotations

import logging

from msgspec.structs import replace

from dpr.domain.errors import NotAllowed, Unavailable
from dpr.domain.job import Job
from dpr.domain.principal import ANONYMOUS, Principal
from dpr.domain.process import JobControl, ProcessCatalog
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore
from dpr.services.ownership import owned
from dpr.services.records import JobRecords

log = logging.getLogger(__name__)


class Dismissal:
    """The ``dismiss`` use case."""

    def __init__(
        self,
        *,
        repository: JobRepository,
        logs: JobLogStore,
        catalog: ProcessCatalog,
        executor: Executor,
        records: JobRecords,
        clock: Clock,
    ) -> None:
        self.repository, self.log_store, self.catalog = repository, logs, catalog
        self.executor, self.records, self.clock = executor, records, clock

    async def dismiss(self, job_id: str, caller: Principal = ANONYMOUS, *, purge: bool = False) -> Job:
        """Cancel an active job (it becomes ``dismissed``). An ended job is left as it is and
        returned, so a retried request changes nothing; with ``purge`` its record, results and
        logs are removed (and it is returned as dismissed). Raises ``NoSuchJob`` (also for another
        owner's job, unless ``caller`` is an admin), ``NotAllowed``."""
        job = await owned(self.repository, job_id, caller)
        if job.is_terminal and not purge:
            return job
        if job.is_terminal:
            await self.repository.delete(job_id)
            await self.log_store.delete(job_id)
            self.records.forget(job_id)
            note = f"Removed: the job had ended ({job.status}); its record and results are deleted."
            return replace(job, status=JobStatus.DISMISSED, message=note, results=None)
        if job.process_id in self.catalog and not self.catalog.get(job.process_id).allows(JobControl.DISMISS):
            raise NotAllowed(f"process {job.process_id!r} does not allow dismissing its jobs")
        dismissed = await self.records.mutate(job_id, lambda j: j if j.is_terminal else j.dismiss(self.clock.now()))
        try:
            await self.executor.cancel(job)
        except Unavailable as e:  # the record says dismissed: its events are ignored from now on
            log.warning("job %s is dismissed, but its run could not be stopped: %s", job_id, e)
        return dismissed or job
