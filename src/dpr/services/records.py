"""Writing job records: compare-and-set changes, and executor events recorded in batches."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from itertools import pairwise
from typing import TypeVar

from dpr.domain.errors import ConcurrentUpdate, DomainError, InvalidTransition, NoSuchJob, Unavailable
from dpr.domain.events import AnyEvent, Logged
from dpr.domain.job import Job
from dpr.domain.process import ProcessCatalog
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogLine
from dpr.ports.notifier import Notifier
from dpr.services.callbacks import callback_for
from dpr.services.waiters import Waiters

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 0.5, 10.0  # seconds between attempts to record events while the store is down

T = TypeVar("T")


class JobRecords:
    """Keeps job records true to what happened to the jobs, without losing a concurrent change.

    Every change is a compare-and-set over the version it started from. For the jobs submitted
    by this process it starts from the record this process last wrote instead of reading the
    store; a stale guess fails the compare-and-set and the change is re-applied to the stored
    record. Records each job's subscriber callbacks and wakes those waiting for it to end.
    """

    def __init__(
        self,
        repository: JobRepository,
        logs: JobLogStore,
        catalog: ProcessCatalog,
        notifier: Notifier | None = None,
        public_base: str = "",
    ) -> None:
        self.repository, self.logs, self.catalog = repository, logs, catalog
        self.notifier, self.public_base = notifier, public_base
        self.waiters = Waiters()
        self._running: dict[str, Job] = {}  # the record last written of each active job run here
        self._bases: dict[str, str] = {}  # where each job's callbacks point their links

    def track(self, job: Job, base_url: str | None = None) -> None:
        """Remember ``job`` as stored by this process, and where its callbacks' links point."""
        self._running[job.job_id] = job
        if job.request.subscriber is not None:
            self._bases[job.job_id] = base_url or self.public_base

    async def record(self, events: Sequence[AnyEvent]) -> None:
        """Record executor events: log lines first, then each job's status changes folded into
        one compare-and-set, all jobs' together. Never raises for unknown or finished jobs
        (late events).

        While the store is unavailable the batch is retried with back-off (a job's later events
        wait behind it, so their order holds): an outage must not leave a job that finished
        recorded as running forever.
        """
        lines = [LogLine(job_id=e.job_id, at=e.at, level=e.level, line=e.line) for e in events if isinstance(e, Logged)]
        if lines:  # before the statuses: a client that sees a job ended finds its whole log
            await _retrying(lambda: self._append(lines), f"{len(lines)} log lines")
        changes: dict[str, list[AnyEvent]] = {}
        for event in events:
            if not isinstance(event, Logged):
                changes.setdefault(event.job_id, []).append(event)
        if changes:
            await _retrying(lambda: self._apply(changes), f"events of {len(changes)} jobs")

    async def mutate(self, job_id: str, change: Callable[[Job], Job], known: Job | None = None) -> Job | None:
        """Change-compare-and-set until it sticks; ``None`` when the job is gone.

        The first attempt starts from ``known``, or from the record this process last wrote for
        a job it runs; the next attempts read the store.
        """
        guess = known or self._running.get(job_id)
        while True:
            job = guess or await self._read(job_id)
            if job is None:
                self._running.pop(job_id, None)
                return None
            try:
                new = change(job)
            except InvalidTransition:
                if guess is None:
                    raise
                guess = None  # the guess was stale: decide on the stored record
                continue
            if new is job and guess is None:
                return job
            if new is not job and await self._compare_and_set(job, new):
                return new
            guess = None

    async def _append(self, lines: list[LogLine]) -> None:
        """All lines in one write; if that fails for another reason than an outage, each line
        on its own, so one bad line loses only itself."""
        try:
            await self.logs.append_many(lines)
            return
        except Unavailable:
            raise
        except Exception:
            log.exception("could not store %d log lines together: storing them one by one", len(lines))
        for x in lines:
            try:
                await self.logs.append(x.job_id, x.at, x.level, x.line)
            except Unavailable:
                raise
            except Exception:
                log.exception("could not store a log line of job %s", x.job_id)

    def forget(self, job_id: str) -> None:
        """The job was removed: wake its waiters and drop what is remembered of it."""
        self._running.pop(job_id, None)
        self._bases.pop(job_id, None)
        self.waiters.release(job_id)

    async def _apply(self, changes: dict[str, list[AnyEvent]]) -> None:
        """Each job's events applied in order to its remembered record, and the results stored
        in one ``update_many``; jobs without a usable guess, or whose guess turned out stale,
        are changed one event at a time from the stored record."""
        planned: list[list[Job]] = []  # per job: the remembered record, then each changed one
        fallback: list[str] = []
        for job_id, events in changes.items():
            steps = _fold(self._running.get(job_id), events)
            if steps is None:
                fallback.append(job_id)
            elif len(steps) > 1:
                planned.append(steps)
        if planned:
            try:
                outcomes = await self.repository.update_many([(steps[-1], steps[0].version) for steps in planned])
            except Unavailable:
                raise
            except Exception:  # one job's bad record must not cost the others theirs
                log.exception("could not store %d jobs' changes together: storing them one by one", len(planned))
                outcomes = [RuntimeError("batch failed")] * len(planned)
            for steps, outcome in zip(planned, outcomes, strict=True):
                if outcome is None:
                    self._stored(steps)
                else:
                    fallback.append(steps[0].job_id)
        for job_id in fallback:
            for event in changes[job_id]:
                try:
                    await self.mutate(job_id, _applying(event))
                except Unavailable:
                    raise
                except DomainError as error:  # one job's trouble must not stop the others'
                    log.warning("could not record %s of job %s: %s", type(event).__name__, job_id, error)
                except Exception:
                    log.exception("could not record %s of job %s", type(event).__name__, job_id)

    async def _compare_and_set(self, old: Job, new: Job) -> bool:
        """Store ``new`` if ``old`` is still the stored version; False if another writer won."""
        try:
            await self.repository.update(new, expected_version=old.version)
        except (ConcurrentUpdate, NoSuchJob):
            return False  # re-read: the job changed, or is gone
        self._stored([old, new])
        return True

    def _stored(self, steps: list[Job]) -> None:
        """``steps[-1]`` was stored over ``steps[0]``: remember it, wake waiters, call back for
        each change on the way."""
        new = steps[-1]
        if new.is_terminal:
            self._running.pop(new.job_id, None)
            self.waiters.release(new.job_id)
        elif new.job_id in self._running:
            self._running[new.job_id] = new
        for old, changed in pairwise(steps):
            self._call_back(old, changed)

    async def _read(self, job_id: str) -> Job | None:
        try:
            return await self.repository.get(job_id)
        except NoSuchJob:
            return None

    def _call_back(self, old: Job, new: Job) -> None:
        if self.notifier is None or new.request.subscriber is None:
            return
        process = self.catalog.get(new.process_id) if new.process_id in self.catalog else None
        base = self._bases.get(new.job_id, self.public_base)
        call = callback_for(old, new, process, base)
        if call is not None:
            self.notifier.notify(*call)
        if new.is_terminal:
            self._bases.pop(new.job_id, None)


def _applying(event: AnyEvent) -> Callable[[Job], Job]:
    return lambda job: job.apply(event)


def _fold(start: Job | None, events: list[AnyEvent]) -> list[Job] | None:
    """``start`` and each record the events made of it, in order; ``None`` without a start or
    when an event does not apply to it (the remembered record is stale)."""
    if start is None:
        return None
    steps = [start]
    try:
        for event in events:
            changed = steps[-1].apply(event)
            if changed is not steps[-1]:
                steps.append(changed)
    except InvalidTransition:
        return None
    return steps


async def _retrying(write: Callable[[], Awaitable[T]], what: str) -> T:
    delay = RETRY_FIRST
    while True:
        try:
            return await write()
        except Unavailable:
            log.warning("store unavailable: %s retried in %.1f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
