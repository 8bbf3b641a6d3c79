"""The decisions of following jobs on a Dask cluster, without I/O.

``TrackerMachine`` remembers how far each watched job's reporting got. Its shell
(``tracking.JobTracker``) turns what happens on the cluster into inputs (``Watched``,
``WorkerEvents``, ``TaskEnded``...) and performs the instructions the machine answers with
(``Deliver`` an event to the service, ``FetchResult``, ``Resubmit``, ``Release``...); both are
in ``tracker_messages``. Nothing here holds a future or a client; inputs carry the time they
happened, so the machine reads no clock.

Each watch of a job has a ``generation`` (a new one at submission, adoption and every re-run),
so a late report about an earlier one changes nothing (a watch whose future this side cancelled,
as the client does when it loses the scheduler, is re-attached to the published task on a
durable cluster: a new generation); ``attempt`` counts the runs of the job.

Workers number their events (``run``: one execution of the task, ``seq``: from 0 in it). An
event already delivered is dropped (a replay overlapping the topic), a jump in the numbers is
reported by a visible gap line, and a second run starting under one attempt is the scheduler
re-running the task after its worker died (its ``allowed-failures`` is not dpr's): it counts
against the job's retries, and the job fails and its task is stopped when they are spent. An
adopted job's events sent while no instance listened are looked up in the scheduler's event
log (``Replay``); the topic's events meanwhile wait behind them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import msgspec

from dpr.adapters.dask.tracker_messages import (
    AwaitEnd,
    CancelRequested,
    Deliver,
    ErrorFetched,
    FetchError,
    FetchResult,
    Input,
    Instruction,
    LingerOver,
    Reattach,
    Reattached,
    Reconnected,
    Recorded,
    Release,
    ReleaseLater,
    Replay,
    Replayed,
    Resubmit,
    Resubmitted,
    ResultFetched,
    SchedulerStates,
    Stop,
    TaskEnded,
    Unwatched,
    Watched,
    WorkerEvents,
)
from dpr.domain.events import AnyEvent, Failed, Logged, Started, Succeeded

FINAL = (Succeeded, Failed)
FREE_RETRIES = 3  # re-runs of a task whose worker died before it started (they cost nothing)
DROPPED = "the cluster dropped this job before it finished ({})"
ENDED = ("memory", "erred")  # scheduler states of a task whose outcome stands
NEVER_STARTED_FLAG_TTL = 30.0  # seconds a queued job's cancellation flag is kept (start race)
GAP = (
    "{} event(s) of this run never reached this instance (sent while no instance listened, and no longer in the"
    " scheduler's event log, which keeps the last distributed.admin.low-level-log-length batches of all jobs):"
    " log lines may be missing here"
)
LOST = (
    "the executor no longer knows this job (the scheduler forgot its task, e.g. after the connection to it was lost"
    " or it restarted, before it finished)"
)
# Health checks in a row that must find a job's task unknown before it is failed: a task just sent
# may not have reached a loaded scheduler yet (two checks apart at least).
MISSES = 3
RERUN = "the worker running this job died; running it again ({} of {} retries; the scheduler re-ran it)"


@dataclass(slots=True)
class JobWatch:
    """How far one watched job's reporting got."""

    retries: int = 0  # re-runs allowed after the worker running the job died
    generation: int = 0
    attempt: int = 1  # runs of the job, this one included
    started: bool = False  # this attempt reported ``Started``
    final_seen: bool = False  # an outcome was handed to the service
    cancel_requested: bool = False
    deaths: int = 0  # workers that died while running this job
    free_retries: int = 0
    run: str | None = None  # the execution of this attempt whose events were delivered
    last_seq: dict[str, int] = field(default_factory=dict)  # per run, the last event number delivered
    held: list[AnyEvent] | None = None  # the topic's events while a replay is awaited
    misses: int = 0  # health checks in a row that found the task unknown to the scheduler

    def may_retry(self, worker_died: bool) -> bool:
        """Whether a task that erred should run again (and count it)."""
        if not worker_died or self.cancel_requested:
            return False
        if not self.started and self.free_retries < FREE_RETRIES:
            self.free_retries += 1
            return True
        self.deaths += 1
        return self.deaths <= self.retries

    def failure(self, worker_died: bool, error: str | None) -> str:
        """A message for the caller about why the cluster could not finish the job."""
        if worker_died:
            allowed = f"{self.retries} retr{'y' if self.retries == 1 else 'ies'}"
            return f"the worker running this job died ({max(self.deaths, 1)} time(s); the process allows {allowed})"
        if error is None:
            return "the cluster lost this job"
        return f"the cluster could not run this job: {error}"


class TrackerMachine:
    """The watched jobs of one cluster connection.

    Args:
        durable: the cluster outlives this process (tasks are published, so unpublished at the end).
        linger: seconds a cancelled job that had started may still report how it ended.
    """

    def __init__(self, *, durable: bool, linger: float) -> None:
        self.durable, self.linger = durable, linger
        self.jobs: dict[str, JobWatch] = {}
        self._generations = 0

    def watching(self, job_id: str) -> bool:
        return job_id in self.jobs

    def handle(self, what: Input) -> list[Instruction]:
        """The instructions that follow from ``what``."""
        match what:
            case Watched():
                return self._watched(what)
            case WorkerEvents(events=events):
                return [i for e in events for i in self._deliver_if_awaited(e)]
            case Replayed():
                return self._replayed(what)
            case Recorded(events=events):
                return [i for e in events if isinstance(e, FINAL) for i in self._release(e.job_id)]
            case TaskEnded():
                return self._ended(what)
            case ResultFetched():
                return self._result(what)
            case ErrorFetched():
                return self._error(what)
            case Resubmitted():
                return self._resubmitted(what)
            case CancelRequested(job_id=job_id):
                if job_id in self.jobs:
                    self.jobs[job_id].cancel_requested = True
                return []
            case Unwatched(job_id=job_id):
                self.jobs.pop(job_id, None)
                return []
            case LingerOver(job_id=job_id):
                return self._release(job_id)
            case SchedulerStates():
                return self._checked(what)
            case Reconnected():
                return self._reconnected()
            case Reattached():
                return self._reattached(what)
        raise TypeError(f"not an input of the tracker: {what!r}")

    def close(self) -> None:
        self.jobs.clear()

    def pending(self) -> list[str]:
        """The watched jobs whose outcome is not known yet (for the health check)."""
        return [job_id for job_id, watch in self.jobs.items() if not watch.final_seen]

    def _checked(self, what: SchedulerStates) -> list[Instruction]:
        """A job whose task the scheduler forgot (``MISSES`` checks in a row: a task just sent may
        not be there yet) will never report: fail it, unless it is being cancelled."""
        out: list[Instruction] = []
        for job_id, state in what.states.items():
            watch = self.jobs.get(job_id)
            if watch is None or watch.final_seen or watch.cancel_requested:
                continue
            watch.misses = watch.misses + 1 if state is None else 0
            if watch.misses >= MISSES:
                out += self._deliver(watch, Failed(job_id=job_id, at=what.at, error=LOST))
        return out

    def _reattached(self, what: Reattached) -> list[Instruction]:
        """Follow the task again (its events meanwhile from the event log), or fail the job."""
        watch = self._current(what.job_id, what.generation)
        if watch is None:
            return []
        if not what.found:
            return self._deliver(watch, Failed(job_id=what.job_id, at=what.at, error=LOST))
        self._generations += 1
        watch.generation = self._generations
        if watch.held is None:
            watch.held = []
        return [AwaitEnd(job_id=what.job_id, generation=watch.generation), Replay(job_id=what.job_id)]

    def _reconnected(self) -> list[Instruction]:
        """Events sent while the client was away are looked up in the event log, as on adoption."""
        out: list[Instruction] = []
        for job_id, watch in self.jobs.items():
            if watch.final_seen:
                continue
            if watch.held is None:
                watch.held = []
            out.append(Replay(job_id=job_id))
        return out

    def _watched(self, what: Watched) -> list[Instruction]:
        self._generations += 1
        watch = JobWatch(retries=what.retries, started=what.started, generation=self._generations)
        self.jobs[what.job_id] = watch
        if not what.replay:
            return [AwaitEnd(job_id=what.job_id, generation=self._generations)]
        watch.held = []
        return [AwaitEnd(job_id=what.job_id, generation=self._generations), Replay(job_id=what.job_id)]

    def _replayed(self, what: Replayed) -> list[Instruction]:
        """The replayed events first, then those the topic brought meanwhile; each once."""
        watch = self.jobs.get(what.job_id)
        if watch is None or watch.held is None:
            return []
        events, watch.held = [*what.events, *watch.held], None
        return [i for e in events for i in self._accept(watch, e)]

    def _current(self, job_id: str, generation: int) -> JobWatch | None:
        """The watch a report is about, unless the report is late or the outcome already known."""
        watch = self.jobs.get(job_id)
        if watch is None or watch.generation != generation or watch.final_seen:
            return None
        return watch

    def _deliver_if_awaited(self, event: AnyEvent) -> list[Instruction]:
        watch = self.jobs.get(event.job_id)
        if watch is None or watch.final_seen:
            return []  # not this instance's job, or its outcome is known: a late event
        if watch.held is not None:
            watch.held.append(event)
            return []
        return self._accept(watch, event)

    def _accept(self, watch: JobWatch, event: AnyEvent) -> list[Instruction]:
        """Deliver ``event`` unless it was already; a gap line before it when events are missing."""
        if watch.final_seen:
            return []
        if event.run is None or event.seq is None:  # an executor that does not number its events
            return self._deliver(watch, event)
        last = watch.last_seq.get(event.run, -1)
        if event.seq <= last:
            return []
        watch.last_seq[event.run] = event.seq
        out: list[Instruction] = []
        if event.seq > last + 1:
            gap = Logged(job_id=event.job_id, at=event.at, level="WARNING", line=GAP.format(event.seq - last - 1))
            out += self._deliver(watch, gap)
        if isinstance(event, Started) and watch.run not in (None, event.run):
            return out + self._rerun(watch, event)
        watch.run = watch.run or event.run  # the first run seen (its Started may be long gone)
        return out + self._deliver(watch, event)

    def _rerun(self, watch: JobWatch, started: Started) -> list[Instruction]:
        """The scheduler ran the task again after the worker running it died: go on while the
        job's retries allow, else fail the job and stop the task."""
        watch.run = started.run
        watch.deaths += 1
        if watch.cancel_requested:
            return [Stop(job_id=started.job_id)]
        if watch.deaths <= watch.retries:
            line = RERUN.format(watch.deaths, watch.retries)
            note = Logged(job_id=started.job_id, at=started.at, level="WARNING", line=line)
            return [*self._deliver(watch, note), *self._deliver(watch, started)]
        failed = Failed(job_id=started.job_id, at=started.at, error=watch.failure(True, None))
        return [Stop(job_id=started.job_id), *self._deliver(watch, failed)]

    def _deliver(self, watch: JobWatch, event: AnyEvent) -> list[Instruction]:
        watch.started = watch.started or isinstance(event, Started)
        watch.final_seen = watch.final_seen or isinstance(event, FINAL)
        return [Deliver(event=event)]

    def _release(self, job_id: str) -> list[Instruction]:
        if self.jobs.pop(job_id, None) is None:
            return []
        return [Release(job_id=job_id, unpublish=self.durable)]

    def _ended(self, what: TaskEnded) -> list[Instruction]:
        watch = self._current(what.job_id, what.generation)
        if watch is None:
            return []
        if what.status == "finished":
            return [FetchResult(job_id=what.job_id, generation=what.generation)]
        if what.status == "error":
            return [FetchError(job_id=what.job_id, generation=what.generation)]
        if watch.cancel_requested:  # a started job may still report how it ended
            return [ReleaseLater(job_id=what.job_id, delay=self.linger if watch.started else 0.0)]
        if what.status == "cancelled" and self.durable:  # e.g. the client lost the scheduler for a moment
            return [Reattach(job_id=what.job_id, generation=what.generation)]
        return self._deliver(watch, Failed(job_id=what.job_id, at=what.at, error=DROPPED.format(what.status)))

    def _result(self, what: ResultFetched) -> list[Instruction]:
        """The outcome from the task's return value, its event batch having been missed."""
        watch = self._current(what.job_id, what.generation)
        if watch is None:
            return []
        event = what.event
        if event is None:
            event = Failed(job_id=what.job_id, at=what.at, error=DROPPED.format(what.error))
        elif event.job_id != what.job_id:  # the worker could not read the task: no id in it
            event = msgspec.structs.replace(event, job_id=what.job_id)
        return self._deliver(watch, event)

    def _error(self, what: ErrorFetched) -> list[Instruction]:
        watch = self._current(what.job_id, what.generation)
        if watch is None:
            return []
        if watch.may_retry(what.worker_died):
            watch.started, watch.run = False, None  # the next run is dpr's own
            return [Resubmit(job_id=what.job_id, generation=what.generation)]
        error = watch.failure(what.worker_died, what.error)
        return self._deliver(watch, Failed(job_id=what.job_id, at=what.at, error=error))

    def _resubmitted(self, what: Resubmitted) -> list[Instruction]:
        watch = self.jobs.get(what.job_id)
        if watch is None or watch.generation != what.generation:
            return []
        self._generations += 1
        watch.generation, watch.attempt = self._generations, watch.attempt + 1
        line = f"the worker running this job died; running it again ({watch.deaths} of {watch.retries} retries)"
        logged = Logged(job_id=what.job_id, at=what.at, line=line, level="WARNING")
        return [AwaitEnd(job_id=what.job_id, generation=watch.generation), *self._deliver(watch, logged)]


def cancel_steps(state: str | None) -> tuple[bool, float | None]:
    """What cancelling a task in scheduler ``state`` takes: whether to stop it (its outcome
    stands once it ended, and an unknown task is nobody's), and after how many seconds to lower
    its cancellation flag (``None``: the processor that reads it clears it)."""
    if state is None or state in ENDED:
        return False, None
    return True, (None if state == "processing" else NEVER_STARTED_FLAG_TTL)


class Adoption(StrEnum):
    """What becomes of a job submitted by an earlier run, when the service adopts it."""

    FOLLOW = "follow"  # its task is on the cluster: watch it
    LOST = "lost"  # nothing was published for it (not a durable cluster, or released)
    FORGOTTEN = "forgotten"  # published, but the scheduler forgot the task (e.g. cancelled): unpublish


def adoption(durable: bool, published: bool, state: str | None) -> Adoption:
    """``published``: the task's dataset is on the scheduler; ``state``: the task's state there."""
    if not durable or not published:
        return Adoption.LOST
    return Adoption.FORGOTTEN if state is None else Adoption.FOLLOW
