"""Ownership of active jobs: this instance's lease, and taking over the jobs of instances that
stopped renewing theirs (an earlier run of this server among them).

Several instances may share one store. Each follows only the active jobs it owns; it renews
its lease every ``lease / 3`` seconds, and takes over, with one compare-and-set per expired
lease, the jobs of any instance whose lease ran out: it re-attaches the executor to them and
fails those the executor lost. A clean stop releases the lease, so the jobs move at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

from dpr.domain.job import Job
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.services.records import JobRecords

log = logging.getLogger(__name__)

LOST = "the executor no longer knows this job (the cluster was lost or restarted before it finished)"


class Recovery:
    """This instance's lease and the jobs it takes over.

    Args:
        instance: this instance's id (new at every start).
        lease: seconds the instance's jobs stay its own without a heartbeat.
    """

    def __init__(
        self,
        *,
        repository: JobRepository,
        executor: Executor,
        records: JobRecords,
        clock: Clock,
        instance: str = "instance",
        lease: float = 30.0,
    ) -> None:
        self.repository, self.executor, self.records, self.clock = repository, executor, records, clock
        self.instance, self.lease = instance, lease

    async def recover(self) -> list[Job]:
        """Hold this instance's lease and take over the active jobs whose owner's lease expired
        (or that no instance owns), once the store is open and the executor started; returns
        those that were failed because the executor lost them."""
        if not await self.repository.renew_lease(self.instance, self._until()):
            log.error("instance %s lost its lease: another instance follows its jobs", self.instance)
            return []
        lost = []
        for job in await self.repository.take_over(self.instance, self.clock.now()):
            if not await self.executor.adopt(job):
                # It may have ended meanwhile: a server shutting down still records outcomes.
                failed = await self.records.mutate(
                    job.job_id, lambda j: j if j.is_terminal else j.fail(self.clock.now(), LOST), known=job
                )
                lost.append(failed)
        return [j for j in lost if j is not None and j.status is JobStatus.FAILED and j.error == LOST]

    async def keep_lease(self) -> None:
        """Renew the lease and take over expired ones every ``lease / 3`` seconds, until cancelled."""
        while True:
            await asyncio.sleep(self.lease / 3)
            try:
                lost = await self.recover()
            except Exception:  # the store is down: the next beat tries again
                log.warning("could not renew the lease of instance %s", self.instance, exc_info=True)
                continue
            if lost:
                log.warning(
                    "%d job(s) taken over from a stopped instance were failed: their executor lost them", len(lost)
                )

    async def release(self) -> None:
        """Let another instance take this one's jobs at once (a clean stop)."""
        await self.repository.release_lease(self.instance)

    def _until(self) -> datetime:
        return self.clock.now() + timedelta(seconds=self.lease)
