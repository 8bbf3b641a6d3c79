"""Ownership of active jobs: this instance's lease, and taking over the jobs of instances that
stopped renewing theirs (an earlier run of this server among them).

Several instances may share one store. Each follows only the active jobs it owns; it renews
its lease every ``lease / 3`` seconds, and takes over, with one compare-and-set per expired
lease, the jobs of any instance whose lease ran out: it re-attaches the executor to them,
re-queues those still ``accepted`` that the executor never saw (their request is stored), and
fails the others the executor lost. A clean stop releases the lease, so the jobs move at once.

An instance that finds its own lease taken over (it could not renew it in time) leaves those
jobs to their new owner, never writing over it, and goes on under a new id with a new lease.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from dpr.domain.errors import DomainError
from dpr.domain.job import Job
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.services.instance import InstanceIds
from dpr.services.records import JobRecords

log = logging.getLogger(__name__)

LOST = "the executor no longer knows this job (the cluster was lost or restarted before it finished)"


class Recovery:
    """This instance's lease and the jobs it takes over.

    Args:
        instance: this instance's ids (new at every start, and after losing its lease).
        lease: seconds the instance's jobs stay its own without a heartbeat.
        requeue: submits again an ``accepted`` job the executor never saw; False if it cannot.
    """

    def __init__(
        self,
        *,
        repository: JobRepository,
        executor: Executor,
        records: JobRecords,
        clock: Clock,
        instance: InstanceIds | str = "instance",
        lease: float = 30.0,
        requeue: Callable[[Job], Awaitable[bool]] | None = None,
    ) -> None:
        self.repository, self.executor, self.records, self.clock = repository, executor, records, clock
        self.ids = instance if isinstance(instance, InstanceIds) else InstanceIds(instance)
        self.lease, self.requeue = lease, requeue

    @property
    def instance(self) -> str:
        """This instance's id now."""
        return self.ids.current

    async def hold(self) -> None:
        """Start or renew this instance's lease; under a new id when the current one's lease
        was taken over by another instance (whose jobs those are now)."""
        while not await self.repository.renew_lease(self.instance, self._until()):
            lost = self.instance
            self.records.disown(lost)
            log.error(
                "instance %s lost its lease: another instance took its jobs over and records them now; "
                "going on as instance %s",
                lost,
                self.ids.renew(),
            )

    async def recover(self) -> list[Job]:
        """Hold this instance's lease and take over the active jobs whose owner's lease expired
        (or that no instance owns), once the store is open and the executor started; returns
        those that were failed because the executor lost them."""
        await self.hold()
        lost = []
        for job in await self.repository.take_over(self.instance, self.clock.now()):
            if await self.executor.adopt(job):
                self.records.track(job)
                continue
            if await self._requeued(job):
                continue
            # It may have ended meanwhile: a server shutting down still records outcomes.
            failed = await self.records.mutate(
                job.job_id, lambda j: j if j.is_terminal else j.fail(self.clock.now(), LOST), known=job
            )
            lost.append(failed)
        return [j for j in lost if j is not None and j.status is JobStatus.FAILED and j.error == LOST]

    async def _requeued(self, job: Job) -> bool:
        """Whether ``job``, accepted and never started, was submitted again."""
        if job.status is not JobStatus.ACCEPTED or self.requeue is None:
            return False
        try:
            return await self.requeue(job)
        except DomainError as e:  # it was failed with the reason
            log.warning("could not re-queue job %s: %s", job.job_id, e)
            return True

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
