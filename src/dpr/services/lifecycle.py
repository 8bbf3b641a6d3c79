"""Whether this instance takes new jobs and can run them (its readiness), and its clean stop.

On a clean stop (SIGTERM, Ctrl-C) an instance stops taking new jobs at once, then either hands
its jobs over (a durable cluster: they go on without it and another instance, or its next start,
follows them once its lease is released) or waits for those it runs on its own embedded cluster
to end, within a grace period, and fails those still running then as stopped. Jobs that never
started stay ``accepted``: the next instance to take them over queues them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from dpr.domain.errors import NoSuchJob, Unavailable
from dpr.domain.job import Job
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.services.records import JobRecords

log = logging.getLogger(__name__)

STOPPED = "the service was stopped"
POLL = 0.5  # seconds between looks at the jobs a stop waits for


class Lifecycle:
    """This instance's readiness, and what a clean stop does to its jobs.

    Args:
        grace: seconds a stop waits for the jobs running on a cluster that ends with the service.
        retry_after: the ``Retry-After`` of a new job refused while stopping.
    """

    def __init__(
        self,
        *,
        repository: JobRepository,
        executor: Executor,
        records: JobRecords,
        clock: Clock,
        grace: float = 30.0,
        retry_after: int = 5,
    ) -> None:
        self.repository, self.executor, self.records, self.clock = repository, executor, records, clock
        self.grace, self.retry_after = grace, retry_after
        self.stopping = False

    def admit(self) -> None:
        """Raise ``Unavailable`` (503, ``Retry-After``) when this instance takes no new jobs."""
        if self.stopping:
            raise Unavailable(
                "service", "this instance is stopping and takes no new jobs: submit again", self.retry_after
            )

    def not_ready(self) -> list[str]:
        """Why this instance is not ready to take and run jobs (none: it is)."""
        reasons = ["this instance is stopping: it takes no new jobs"] if self.stopping else []
        starting = self.executor.starting()
        if starting is not None:
            reasons.append(f"{starting}: jobs are accepted and wait until it is up")
        return reasons

    async def stop(self) -> list[Job]:
        """Stop taking new jobs; on a cluster that ends with this service, wait up to the grace
        period for the jobs it runs to end, then fail those still running. Returns the jobs so
        failed. Jobs on a durable cluster are left running, to be handed over."""
        self.stopping = True
        if self.executor.durable:
            log.info("stopping: the jobs of this instance go on on the cluster and are handed over")
            return []
        followed = self.records.followed()
        log.info("stopping: waiting up to %.0f s for %d job(s) run here", self.grace, len(followed))
        active = await self._wait(followed)
        stopped = []
        for job_id in active:
            job = await self.records.mutate(job_id, _stop(self.clock))
            if job is not None and job.status is JobStatus.FAILED and job.error == STOPPED:
                stopped.append(job)
        if stopped:
            log.warning("stopping: %d running job(s) failed: %s", len(stopped), STOPPED)
        return stopped

    async def _wait(self, job_ids: list[str]) -> list[str]:
        """Those of ``job_ids`` still active once none runs (those left are waiting to start)
        or the grace period is over."""
        deadline = asyncio.get_running_loop().time() + self.grace
        while True:
            jobs = [job for job in [await self._get(j) for j in job_ids] if job is not None and not job.is_terminal]
            job_ids = [job.job_id for job in jobs]
            running = any(job.status is JobStatus.RUNNING for job in jobs)
            if not running or asyncio.get_running_loop().time() >= deadline:
                return job_ids
            await asyncio.sleep(min(POLL, max(0.0, deadline - asyncio.get_running_loop().time())))

    async def _get(self, job_id: str) -> Job | None:
        try:
            return await self.repository.get(job_id)
        except NoSuchJob:
            return None


def _stop(clock: Clock) -> Callable[[Job], Job]:
    def change(job: Job) -> Job:
        return job.fail(clock.now(), STOPPED) if job.status is JobStatus.RUNNING else job

    return change
