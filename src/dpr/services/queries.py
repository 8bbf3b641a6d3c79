"""Reading jobs and processes: status, lists, results, logs (also followed live), the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from dpr.domain.errors import JobFailedError, ResultNotReady
from dpr.domain.job import Job
from dpr.domain.process import ProcessCatalog, ProcessDescription
from dpr.domain.query import JobPage, JobQuery
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogRecord
from dpr.services.logs import FollowTiming, LogFollower, LogItem
from dpr.services.waiters import Waiters


class JobQueries:
    """Answers questions about jobs and the processes offered; changes nothing."""

    def __init__(
        self,
        *,
        repository: JobRepository,
        logs: JobLogStore,
        catalog: ProcessCatalog,
        clock: Clock,
        waiters: Waiters,
        follow_timing: FollowTiming | None = None,
    ) -> None:
        self.repository, self.log_store, self.catalog = repository, logs, catalog
        self.clock, self.waiters, self.follow_timing = clock, waiters, follow_timing

    def now(self) -> datetime:
        """The service's present time (what "the last hour" and running durations count from)."""
        return self.clock.now()

    async def status(self, job_id: str) -> Job:
        """The job's current record. Raises ``NoSuchJob``."""
        return await self.repository.get(job_id)

    async def list_jobs(self, query: JobQuery) -> JobPage:
        """The jobs matching ``query``, newest first (see ``JobRepository.list_jobs``)."""
        return await self.repository.list_jobs(query)

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

    async def follow(self, job_id: str, after: int = -1) -> AsyncIterator[LogItem]:
        """The job's log lines from ``seq > after`` as they come, until it has ended (see
        ``LogFollower.open``). Raises ``NoSuchJob`` before anything is streamed."""
        return await LogFollower(self.repository, self.log_store, self.follow_timing).open(job_id, after)

    async def wait(self, job_id: str, timeout: float) -> Job:
        """The job once it has ended, or as it stands after ``timeout`` seconds."""
        return await self.waiters.wait(job_id, timeout, self.repository.get)

    async def active_count(self) -> int:
        """How many jobs are accepted or running (answers from the store: it must be reachable)."""
        return await self.repository.count_active()

    def processes(self) -> list[ProcessDescription]:
        """Every process offered, in the catalog's order."""
        return self.catalog.all()

    def process_ids(self) -> list[str]:
        return self.catalog.ids()

    def describe(self, process_id: str) -> ProcessDescription:
        """The process's description. Raises ``NoSuchProcess``."""
        return self.catalog.get(process_id)

    def task_table(self, process_id: str) -> dict[str, Any] | None:
        """The EOPF task table of ``process_id``, when its processor has one."""
        return self.catalog.task_table(process_id)
