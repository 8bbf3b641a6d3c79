"""Where jobs are kept."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import datetime

from dpr.domain.active import ActiveCounts
from dpr.domain.errors import ConcurrentUpdate, InvalidTransition, NoSuchJob
from dpr.domain.job import Job
from dpr.domain.query import JobPage, JobQuery


class JobRepository(ABC):
    """A store of Job records with compare-and-set updates.

    Adapters translate their library's errors: an unreachable backend raises ``Unavailable``.
    """

    @abstractmethod
    async def add(self, job: Job) -> None:
        """Store a new job. Raises ``ConcurrentUpdate`` if its id is already taken."""

    @abstractmethod
    async def get(self, job_id: str) -> Job:
        """The job with this id. Raises ``NoSuchJob``."""

    @abstractmethod
    async def update(self, job: Job, *, expected_version: int) -> None:
        """Replace the stored job if its version is still ``expected_version``.

        Raises ``NoSuchJob`` when the job is gone and ``ConcurrentUpdate`` when another writer
        changed it first (then re-read, re-apply and retry). Giving a terminal job a different
        status raises ``InvalidTransition``.
        """

    async def update_many(self, changes: Sequence[tuple[Job, int]]) -> list[Exception | None]:
        """Several ``update(job, expected_version=version)`` calls for distinct jobs, each a
        compare-and-set of its own: one losing does not stop the others.

        Returns one outcome per change, in order: ``None`` when it was stored, else the error
        ``update`` would have raised (``ConcurrentUpdate``, ``NoSuchJob``,
        ``InvalidTransition``). Raises ``Unavailable`` when the backend cannot be reached;
        then none was stored. Adapters may write them together (one transaction); the
        default updates one by one.
        """
        outcomes: list[Exception | None] = []
        for job, version in changes:
            try:
                await self.update(job, expected_version=version)
            except (ConcurrentUpdate, NoSuchJob, InvalidTransition) as error:
                outcomes.append(error)
            else:
                outcomes.append(None)
        return outcomes

    @abstractmethod
    async def list_jobs(self, query: JobQuery) -> JobPage:
        """The jobs matching ``query``, newest first, at most ``query.limit`` of them.

        ``next`` is set when more jobs match after this page; walking the pages returns every
        matching job exactly once, even while new jobs are added. ``number_matched`` is set
        only when ``query.count`` is true.
        """

    @abstractmethod
    async def list_active(self) -> list[Job]:
        """Every job that is ``accepted`` or ``running`` (for recovery at start-up)."""

    @abstractmethod
    async def count_active(self, process_id: str | None = None, *, owner: str | None = None) -> int:
        """How many jobs are ``accepted`` or ``running``: overall, of one process, of one
        ``owner`` (jobs without an owner count only overall), or of both."""

    @abstractmethod
    async def active_counts(self) -> ActiveCounts:
        """The outstanding jobs counted by process and owner, in one read (admission's)."""

    @abstractmethod
    async def delete(self, job_id: str) -> None:
        """Remove a job record. Raises ``NoSuchJob``. Its log lines are the log store's to delete
        (adapters sharing a database may remove them too)."""

    # Ownership leases. Several service instances may share one store; each has an id and holds
    # a lease that its heartbeat renews. Each active job is owned by one instance (the Job's
    # ``owner_instance``): the one that follows it on the executor and records its events.

    @abstractmethod
    async def renew_lease(self, instance: str, until: datetime) -> bool:
        """Hold ``instance``'s lease until ``until``, starting it when the instance is new: its
        heartbeat. Returns False, changing nothing, when the lease expired and another instance
        took it over: the jobs it owned are that instance's now, so it must stop following them
        and may only go on under a new id."""

    @abstractmethod
    async def release_lease(self, instance: str) -> None:
        """End ``instance``'s lease now (a clean stop): the next ``take_over`` by another
        instance takes its jobs. Idempotent; unknown instances are ignored."""

    @abstractmethod
    async def take_over(self, instance: str, now: datetime) -> Sequence[Job]:
        """Make ``instance`` the owner of the active jobs of every other instance whose lease
        expired before ``now``, and of the active jobs no instance owns; return those jobs as
        now stored, oldest first.

        Each expired lease is taken over by one compare-and-set: of instances calling this at
        the same time, exactly one gets a given lease's jobs, and the lease stays taken over
        (its instance's ``renew_lease`` answers False). A moved job's ``version`` is one higher,
        so a write by its former owner over the version it knew raises ``ConcurrentUpdate``.
        """

    async def open(self) -> None:
        """Wait for the backend and prepare it (schema migrations); called once at start-up.

        Raises ``Unavailable`` when the backend does not answer in time. The default does
        nothing.
        """

    async def close(self) -> None:
        """Release connections. The default does nothing."""
