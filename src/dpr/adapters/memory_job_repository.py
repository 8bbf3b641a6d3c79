"""Jobs in a dict: for tests and ``--ephemeral`` servers. Passes the repository contract suite."""

from __future__ import annotations

from dpr.domain.errors import ConcurrentUpdate, InvalidTransition, NoSuchJob
from dpr.domain.job import Job
from dpr.domain.query import Cursor, JobPage, JobQuery, order_key
from dpr.domain.status import ACTIVE
from dpr.ports.job_repository import JobRepository


class InMemoryJobRepository(JobRepository):
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    async def add(self, job: Job) -> None:
        if job.job_id in self._jobs:
            raise ConcurrentUpdate(job.job_id, 0, self._jobs[job.job_id].version)
        self._jobs[job.job_id] = job

    async def get(self, job_id: str) -> Job:
        try:
            return self._jobs[job_id]
        except KeyError:
            raise NoSuchJob(job_id) from None

    async def update(self, job: Job, *, expected_version: int) -> None:
        current = await self.get(job.job_id)
        if current.version != expected_version:
            raise ConcurrentUpdate(job.job_id, expected_version, current.version)
        if current.is_terminal and job.status != current.status:
            raise InvalidTransition(job.job_id, current.status, job.status)
        self._jobs[job.job_id] = job

    async def list_jobs(self, query: JobQuery) -> JobPage:
        matching = sorted((j for j in self._jobs.values() if query.matches(j)), key=order_key, reverse=True)
        after = [j for j in matching if query.is_after_cursor(j)]
        page = after[: query.limit]
        more = len(after) > query.limit
        return JobPage(
            jobs=page,
            next=Cursor.after(page[-1]) if more else None,
            number_matched=len(matching) if query.count else None,
        )

    async def list_active(self) -> list[Job]:
        return [j for j in self._jobs.values() if j.status in ACTIVE]

    async def count_active(self, process_id: str | None = None) -> int:
        return sum(1 for j in self._jobs.values() if j.status in ACTIVE and process_id in (None, j.process_id))

    async def delete(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is None:
            raise NoSuchJob(job_id)
