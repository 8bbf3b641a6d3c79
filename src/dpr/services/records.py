"""Writing job records: compare-and-set changes, and executor events recorded in batches.

The decisions are ``record_machine.RecordMachine``'s; ``JobRecords`` is its shell: it reads and
writes the store, retries while the store is down, sends callbacks and wakes waiters.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from typing import TypeVar

from dpr.domain.errors import ConcurrentUpdate, DomainError, NoSuchJob, Unavailable
from dpr.domain.events import AnyEvent
from dpr.domain.job import Job
from dpr.domain.process import ProcessCatalog
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogLine
from dpr.ports.notifier import Notifier
from dpr.services.instance import InstanceIds
from dpr.services.record_machine import Effect, Gone, Keep, Notify, RecordMachine, Wake, Write, applying, split
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

    With ``instance``, executor events change only the jobs this instance owns: a job another
    instance took over is that one's to record, even while this one's executor still reports it.
    """

    def __init__(
        self,
        repository: JobRepository,
        logs: JobLogStore,
        catalog: ProcessCatalog,
        notifier: Notifier | None = None,
        public_base: str = "",
        *,
        instance: InstanceIds | None = None,
    ) -> None:
        self.repository, self.logs, self.catalog = repository, logs, catalog
        self.notifier, self.public_base, self.instance = notifier, public_base, instance
        self.waiters = Waiters()
        self.machine = RecordMachine(catalog, public_base, calls_back=notifier is not None)

    def track(self, job: Job, base_url: str | None = None) -> None:
        """Remember ``job`` as stored by this process. Its callbacks' links start with the
        configured public address or the one its request stored, so ``base_url`` is not kept."""
        self.machine.track(job)

    def forget(self, job_id: str) -> None:
        """The job was removed: wake its waiters and drop what is remembered of it."""
        self._perform(self.machine.forget(job_id))

    def followed(self) -> list[str]:
        """The jobs this process follows (submitted or taken over here) that it has not seen end."""
        return list(self.machine.running)

    def disown(self, instance: str) -> None:
        """Another instance took over the jobs ``instance`` owned: stop writing from what this
        process remembers of them (their next event, if any, reads the store and finds them
        owned by that instance)."""
        self.machine.disown(instance)

    async def record(self, events: Sequence[AnyEvent]) -> None:
        """Record executor events: log lines first, then each job's status changes folded into
        one compare-and-set, all jobs' together. Never raises for unknown or finished jobs
        (late events).

        While the store is unavailable the batch is retried with back-off (a job's later events
        wait behind it, so their order holds): an outage must not leave a job that finished
        recorded as running forever.
        """
        lines, changes = split(events)
        if lines:  # before the statuses: a client that sees a job ended finds its whole log
            await _retrying(lambda: self._append(lines), f"{len(lines)} log lines")
        if changes:
            await _retrying(lambda: self._apply(changes), f"events of {len(changes)} jobs")

    async def mutate(self, job_id: str, change: Callable[[Job], Job], known: Job | None = None) -> Job | None:
        """Change-compare-and-set until it sticks; ``None`` when the job is gone.

        The first attempt starts from ``known``, or from the record this process last wrote for
        a job it runs; the next attempts read the store.
        """
        guess = self.machine.guess(job_id, known)
        while True:
            job = guess or await self._read(job_id)
            match self.machine.attempt(job_id, job, change, guessed=guess is not None):
                case Gone():
                    return None
                case Keep(job=kept):
                    return kept
                case Write(old=old, new=new) if await self._compare_and_set(old, new):
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
                await self.logs.append_many([x])
            except Unavailable:
                raise
            except Exception:
                log.exception("could not store a log line of job %s", x.job_id)

    async def _apply(self, changes: dict[str, list[AnyEvent]]) -> None:
        """The machine's batch stored in one ``update_many``; the jobs it could not plan, or
        whose write lost, changed one event at a time from the stored record."""
        batch = self.machine.plan(changes)
        outcomes: list[BaseException | None] = []
        if batch.planned:
            try:
                outcomes += await self.repository.update_many([(s[-1], s[0].version) for s in batch.planned])
            except Unavailable:
                raise
            except Exception:  # one job's bad record must not cost the others theirs
                log.exception("could not store %d jobs' changes together: storing them one by one", len(batch.planned))
                outcomes = [RuntimeError("batch failed")] * len(batch.planned)
        effects, fallback = self.machine.batch_stored(batch, outcomes)
        self._perform(effects)
        for job_id in fallback:
            for event in changes[job_id]:
                try:
                    await self.mutate(job_id, self._if_owned(applying(event)))
                except Unavailable:
                    raise
                except DomainError as error:  # one job's trouble must not stop the others'
                    log.warning("could not record %s of job %s: %s", type(event).__name__, job_id, error)
                except Exception:
                    log.exception("could not record %s of job %s", type(event).__name__, job_id)

    def _if_owned(self, change: Callable[[Job], Job]) -> Callable[[Job], Job]:
        """``change`` on a job this instance owns; any other job is left as stored."""
        owns = self.instance.owns if self.instance is not None else None
        if owns is None:
            return change
        return lambda job: change(job) if owns(job.owner_instance) else job

    async def _compare_and_set(self, old: Job, new: Job) -> bool:
        """Store ``new`` if ``old`` is still the stored version; False if another writer won."""
        try:
            await self.repository.update(new, expected_version=old.version)
        except (ConcurrentUpdate, NoSuchJob):
            return False  # re-read: the job changed, or is gone
        self._perform(self.machine.stored([old, new]))
        return True

    async def _read(self, job_id: str) -> Job | None:
        try:
            return await self.repository.get(job_id)
        except NoSuchJob:
            return None

    def _perform(self, effects: Iterable[Effect]) -> None:
        for effect in effects:
            match effect:
                case Wake(job_id=job_id):
                    self.waiters.release(job_id)
                case Notify(url=url, body=body) if self.notifier is not None:
                    self.notifier.notify(url, body)


async def _retrying(write: Callable[[], Awaitable[T]], what: str) -> T:
    delay = RETRY_FIRST
    while True:
        try:
            return await write()
        except Unavailable:
            log.warning("store unavailable: %s retried in %.1f s", what, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RETRY_MAX)
