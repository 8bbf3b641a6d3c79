"""Reading jobs and processes: status, lists, results, logs (also followed live), the catalog."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from msgspec.structs import replace

from dpr.domain.errors import InvalidParameter, JobFailedError, ResultNotReady
from dpr.domain.job import Job
from dpr.domain.principal import ANONYMOUS, Principal
from dpr.domain.process import ProcessCatalog, ProcessDescription
from dpr.domain.query import JobPage, JobQuery
from dpr.domain.status import JobStatus
from dpr.ports.clock import Clock
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogRecord
from dpr.services.logs import FollowTiming, LogFollower, LogItem
from dpr.services.ownership import owned
from dpr.services.waiters import Waiters


class JobQueries:
    """Answers questions about jobs and the processes offered; changes nothing.

    Each question about jobs is asked by a ``caller``: a principal sees its own jobs only (a
    job of another owner is answered as if it did not exist, so its id reveals nothing), an
    admin sees all. ``ANONYMOUS`` (authentication off, and the server's own uses) sees all.
    """

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

    async def status(self, job_id: str, caller: Principal = ANONYMOUS) -> Job:
        """The job's current record. Raises ``NoSuchJob`` (also for another owner's job)."""
        return await owned(self.repository, job_id, caller)

    async def list_jobs(self, query: JobQuery, caller: Principal = ANONYMOUS) -> JobPage:
        """The caller's jobs matching ``query``, newest first (see ``JobRepository.list_jobs``).
        Raises ``InvalidParameter`` when a caller who is no admin filters by another owner."""
        scope = caller.owner_scope()
        if scope is not None:
            if query.owner not in (None, scope):
                raise InvalidParameter("owner", "only administrators may list the jobs of other owners")
            query = replace(query, owner=scope)
        return await self.repository.list_jobs(query)

    async def results(self, job_id: str, caller: Principal = ANONYMOUS) -> tuple[Job, ProcessDescription | None]:
        """The successful job and its process. Raises ``NoSuchJob``, ``ResultNotReady`` while it
        is active, ``JobFailedError`` when it failed or was dismissed."""
        job = await owned(self.repository, job_id, caller)
        if job.status is JobStatus.SUCCESSFUL:
            return job, self.catalog.get(job.process_id) if job.process_id in self.catalog else None
        if not job.is_terminal or job.status is JobStatus.DISMISSED:
            raise ResultNotReady(job_id, job.status)  # a dismissed job never has results
        raise JobFailedError(job_id, job.status, job.error or job.message)

    async def logs(
        self, job_id: str, after: int = -1, limit: int = 1000, caller: Principal = ANONYMOUS
    ) -> tuple[Job, list[LogRecord]]:
        """The job and its log lines with ``seq > after``. Raises ``NoSuchJob``."""
        job = await owned(self.repository, job_id, caller)
        return job, await self.log_store.read(job_id, after, limit)

    async def follow(self, job_id: str, after: int = -1, caller: Principal = ANONYMOUS) -> AsyncIterator[LogItem]:
        """The job's log lines from ``seq > after`` as they come, until it has ended (see
        ``LogFollower.open``). Raises ``NoSuchJob`` before anything is streamed."""
        await owned(self.repository, job_id, caller)
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
