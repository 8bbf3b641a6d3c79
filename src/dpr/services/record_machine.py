"""The decisions of keeping job records, without I/O: which record a change starts from, what
to write, whom to call back and whom to wake.

``RecordMachine`` remembers the record this process last wrote of each job it runs. Its shell
(``records.JobRecords``) reads and writes the store and hands the machine what happened; the
machine answers with instructions: ``Write`` (compare-and-set a record), ``Reread`` (the guess was
stale), ``Keep`` and ``Gone`` (nothing to write), and the effects of a stored change, ``Notify``
(a subscriber callback) and ``Wake`` (a job's waiters).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import pairwise

import msgspec

from dpr.domain.errors import InvalidTransition
from dpr.domain.events import AnyEvent, Logged
from dpr.domain.job import Job
from dpr.domain.process import ProcessCatalog
from dpr.ports.log_store import LogLine
from dpr.services.callbacks import callback_for

Change = Callable[[Job], Job]


class Write(msgspec.Struct, frozen=True, kw_only=True):
    """Store ``new`` if ``old`` is still the stored version."""

    old: Job
    new: Job


class Keep(msgspec.Struct, frozen=True, kw_only=True):
    """The stored record needs no change: ``job`` stands."""

    job: Job


class Reread(msgspec.Struct, frozen=True, kw_only=True):
    """The remembered record was no fit for the change: decide again on the stored one."""


class Gone(msgspec.Struct, frozen=True, kw_only=True):
    """The job is not in the store (any more)."""


Attempt = Write | Keep | Reread | Gone


class Notify(msgspec.Struct, frozen=True, kw_only=True):
    """Send ``body`` to a subscriber's ``url``."""

    url: str
    body: bytes


class Wake(msgspec.Struct, frozen=True, kw_only=True):
    """Wake those waiting for the job to end (it ended, or was removed)."""

    job_id: str


Effect = Notify | Wake


class Batch(msgspec.Struct, frozen=True, kw_only=True):
    """How a batch of events is written: ``planned`` lists, per job, its remembered record then
    each record its events made of it (the last one is written over the first's version, all
    jobs' together); the jobs in ``fallback`` are changed one event at a time from the store."""

    planned: list[list[Job]]
    fallback: list[str]


def split(events: Iterable[AnyEvent]) -> tuple[list[LogLine], dict[str, list[AnyEvent]]]:
    """The log lines among ``events``, and each job's other events in their order."""
    lines: list[LogLine] = []
    changes: dict[str, list[AnyEvent]] = {}
    for e in events:
        if isinstance(e, Logged):
            lines.append(LogLine(job_id=e.job_id, at=e.at, level=e.level, line=e.line, run=e.run, run_seq=e.seq))
        else:
            changes.setdefault(e.job_id, []).append(e)
    return lines, changes


def applying(event: AnyEvent) -> Change:
    """The change ``event`` makes to a record."""
    return lambda job: job.apply(event)


def fold(start: Job | None, events: Sequence[AnyEvent]) -> list[Job] | None:
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


class RecordMachine:
    """What this process remembers of the jobs it runs, and what follows from each change.

    Args:
        catalog: the processes, for the results documents sent to subscribers.
        public_base: the configured public address of the service; callback documents' links
            start with it, or else with the address the job's request stored.
        calls_back: whether subscribers are called back at all (there is a notifier).
    """

    def __init__(self, catalog: ProcessCatalog, public_base: str = "", calls_back: bool = False) -> None:
        self.catalog, self.public_base, self.calls_back = catalog, public_base, calls_back
        self.running: dict[str, Job] = {}  # the record last written of each active job run here

    def track(self, job: Job) -> None:
        """``job`` was stored by this process, which runs it."""
        self.running[job.job_id] = job

    def disown(self, instance: str) -> None:
        """Forget the remembered records of the jobs ``instance`` owned."""
        for job_id in [j.job_id for j in self.running.values() if j.owner_instance == instance]:
            del self.running[job_id]

    def forget(self, job_id: str) -> list[Effect]:
        """The job was removed."""
        self.running.pop(job_id, None)
        return [Wake(job_id=job_id)]

    def guess(self, job_id: str, known: Job | None = None) -> Job | None:
        """The record a change starts from without reading the store, if there is one."""
        return known or self.running.get(job_id)

    def attempt(self, job_id: str, job: Job | None, change: Change, *, guessed: bool) -> Attempt:
        """What to do to apply ``change`` to ``job``: the remembered record when ``guessed``, else
        the stored one (``None`` when the store has no such job). Raises what ``change`` raises
        on a stored record."""
        if job is None:
            self.running.pop(job_id, None)
            return Gone()
        try:
            new = change(job)
        except InvalidTransition:
            if not guessed:
                raise
            return Reread()
        if new is job:
            return Reread() if guessed else Keep(job=job)
        return Write(old=job, new=new)

    def plan(self, changes: dict[str, list[AnyEvent]]) -> Batch:
        """Each job's events folded over its remembered record, where it has a usable one."""
        planned: list[list[Job]] = []
        fallback: list[str] = []
        for job_id, events in changes.items():
            steps = fold(self.running.get(job_id), events)
            if steps is None:
                fallback.append(job_id)
            elif len(steps) > 1:
                planned.append(steps)
        return Batch(planned=planned, fallback=fallback)

    def batch_stored(self, batch: Batch, outcomes: Sequence[BaseException | None]) -> tuple[list[Effect], list[str]]:
        """The effects of the planned writes that were stored (outcome ``None``), and the jobs to
        change one event at a time from the store: the fallback ones and those whose write lost."""
        effects: list[Effect] = []
        fallback = list(batch.fallback)
        for steps, outcome in zip(batch.planned, outcomes, strict=True):
            if outcome is None:
                effects += self.stored(steps)
            else:
                fallback.append(steps[0].job_id)
        return effects, fallback

    def stored(self, steps: list[Job]) -> list[Effect]:
        """``steps[-1]`` was stored over ``steps[0]``: remember it; wake waiters when it ended;
        call back for each change on the way."""
        new = steps[-1]
        effects: list[Effect] = []
        if new.is_terminal:
            self.running.pop(new.job_id, None)
            effects.append(Wake(job_id=new.job_id))
        elif new.job_id in self.running:
            self.running[new.job_id] = new
        for old, changed in pairwise(steps):
            effects += self._callback(old, changed)
        return effects

    def _callback(self, old: Job, new: Job) -> list[Effect]:
        if not self.calls_back or new.request.subscriber is None:
            return []
        process = self.catalog.get(new.process_id) if new.process_id in self.catalog else None
        base = self.public_base or new.request.callback_base or ""
        call = callback_for(old, new, process, base)
        return [Notify(url=call[0], body=call[1])] if call is not None else []
