"""Jobs in a dict: for tests and ``--ephemeral`` servers. Passes the repository contract suite.

Single-instance by nature: the dict lives in one process, so the instances whose leases it keeps
are those of that process (tests); several servers never share it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from msgspec.structs import replace

from dpr.domain.active import ActiveCounts
from dpr.domain.errors import ConcurrentUpdate, InvalidTransition, NoSuchJob
from dpr.domain.job import Job
from dpr.domain.query import Cursor, JobPage, JobQuery, order_key
from dpr.domain.status import ACTIVE
from dpr.ports.job_repository import JobRepository


class InMemoryJobRepository(JobRepository):
    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}
        self._leases: dict[str, datetime] = {}  # instance -> lease expiry
        self._taken: dict[str, str] = {}  # instance -> the instance that took its lease over

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

    async def count_active(self, process_id: str | None = None, *, owner: str | None = None) -> int:
        return sum(
            1
            for j in self._jobs.values()
            if j.status in ACTIVE and process_id in (None, j.process_id) and owner in (None, j.owner)
        )

    async def active_counts(self) -> ActiveCounts:
        return ActiveCounts.of((j.process_id, j.owner) for j in self._jobs.values() if j.status in ACTIVE)

    async def delete(self, job_id: str) -> None:
        if self._jobs.pop(job_id, None) is None:
            raise NoSuchJob(job_id)

    async def renew_lease(self, instance: str, until: datetime) -> bool:
        if instance in self._taken:
            return False
        self._leases[instance] = until
        return True

    async def release_lease(self, instance: str) -> None:
        if instance in self._leases and instance not in self._taken:
            self._leases[instance] = datetime(1970, 1, 1, tzinfo=UTC)

    async def take_over(self, instance: str, now: datetime) -> Sequence[Job]:
        # No await before the last write: nothing interleaves, so each lease goes to one taker.
        won = {i for i, until in self._leases.items() if until < now and i not in self._taken and i != instance}
        self._taken.update(dict.fromkeys(won, instance))
        mine = [
            j
            for j in self._jobs.values()
            if j.status in ACTIVE and (j.owner_instance is None or j.owner_instance in won)
        ]
        moved = [replace(j, owner_instance=instance, version=j.version + 1) for j in mine]
        self._jobs.update((j.job_id, j) for j in moved)
        return sorted(moved, key=lambda j: (j.created, j.job_id))
