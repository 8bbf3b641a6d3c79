"""Start-up recovery: settling the jobs an earlier run of the server left active."""

from __future__ import annotations

from dpr.domain.job import Job
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.services.records import JobRecords

LOST = "the executor no longer knows this job (the cluster was lost or restarted before it finished)"


class Recovery:
    """Hands the executor back the active jobs it still runs, and fails those it lost."""

    def __init__(self, *, repository: JobRepository, executor: Executor, records: JobRecords, clock: Clock) -> None:
        self.repository, self.executor, self.records, self.clock = repository, executor, records, clock

    async def recover(self) -> list[Job]:
        """Settle the jobs left active by an earlier run, once the store is open and the
        executor started; returns those that were failed because the executor lost them."""
        lost = []
        for job in await self.repository.list_active():
            if not await self.executor.adopt(job):
                # It may have ended meanwhile: a server shutting down still records outcomes.
                failed = await self.records.mutate(
                    job.job_id, lambda j: j if j.is_terminal else j.fail(self.clock.now(), LOST), known=job
                )
                lost.append(failed)
        return [j for j in lost if j is not None and j.status is JobStatus.FAILED and j.error == LOST]
