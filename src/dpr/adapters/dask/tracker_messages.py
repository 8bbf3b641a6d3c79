"""What the Dask tracker machine is told (inputs: what happened on the cluster or in the
service) and what it answers (instructions for its shell). Plain Structs, so a test or a log can
show them as they are."""

from __future__ import annotations

from datetime import datetime

import msgspec

from dpr.domain.events import AnyEvent

# Inputs: what happened.


class Watched(msgspec.Struct, frozen=True, kw_only=True):
    """The job's task was submitted or adopted; ``started`` when it is known to run already;
    ``replay`` when events sent before (while nobody listened) are to be looked for."""

    job_id: str
    retries: int = 0
    started: bool = False
    replay: bool = False


class WorkerEvents(msgspec.Struct, frozen=True, kw_only=True):
    """A batch the workers sent on the topic (of jobs of any instance)."""

    events: list[AnyEvent]


class Replayed(msgspec.Struct, frozen=True, kw_only=True):
    """The job's events the scheduler's event log still held (in the order they were sent)."""

    job_id: str
    events: list[AnyEvent]


class Recorded(msgspec.Struct, frozen=True, kw_only=True):
    """The service recorded these events."""

    events: list[AnyEvent]


class TaskEnded(msgspec.Struct, frozen=True, kw_only=True):
    """The task of a watch ended, in the future's ``status`` (finished, error, cancelled, lost)."""

    job_id: str
    generation: int
    status: str
    at: datetime


class ResultFetched(msgspec.Struct, frozen=True, kw_only=True):
    """The task's return value (its final event), or why it could not be had."""

    job_id: str
    generation: int
    event: AnyEvent | None = None
    error: str | None = None
    at: datetime


class ErrorFetched(msgspec.Struct, frozen=True, kw_only=True):
    """The task's error: ``worker_died`` for a killed worker, else its text (``None``: none)."""

    job_id: str
    generation: int
    worker_died: bool = False
    error: str | None = None
    at: datetime


class Resubmitted(msgspec.Struct, frozen=True, kw_only=True):
    """The task was sent to run again."""

    job_id: str
    generation: int
    at: datetime


class CancelRequested(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str


class Unwatched(msgspec.Struct, frozen=True, kw_only=True):
    """Stop watching without a word to the scheduler (the task is being cancelled)."""

    job_id: str


class LingerOver(msgspec.Struct, frozen=True, kw_only=True):
    """The time a cancelled job had to report how it ended is over."""

    job_id: str


class SchedulerStates(msgspec.Struct, frozen=True, kw_only=True):
    """What the scheduler said of the tasks of watched jobs (``None``: it does not know it)."""

    states: dict[str, str | None]
    at: datetime


class Reattached(msgspec.Struct, frozen=True, kw_only=True):
    """After the watch's future was cancelled on this side: ``found`` when the scheduler still
    had the job's published task (the shell now holds a new future of it)."""

    job_id: str
    generation: int
    found: bool
    at: datetime


class Reconnected(msgspec.Struct, frozen=True, kw_only=True):
    """The client lost the scheduler and connected again (and subscribed to the topic again)."""


Input = (
    Watched
    | WorkerEvents
    | Replayed
    | Recorded
    | TaskEnded
    | ResultFetched
    | ErrorFetched
    | Resubmitted
    | CancelRequested
    | Unwatched
    | LingerOver
    | SchedulerStates
    | Reattached
    | Reconnected
)


# Instructions: what the shell is to do.


class AwaitEnd(msgspec.Struct, frozen=True, kw_only=True):
    """Wait for the task to end and report ``TaskEnded`` for this generation."""

    job_id: str
    generation: int


class Deliver(msgspec.Struct, frozen=True, kw_only=True):
    """Hand the event to the service."""

    event: AnyEvent


class Replay(msgspec.Struct, frozen=True, kw_only=True):
    """Look up the job's events in the scheduler's event log and report ``Replayed``."""

    job_id: str


class Stop(msgspec.Struct, frozen=True, kw_only=True):
    """Stop the job's task (raise its cancellation flag, cancel it): it must not go on."""

    job_id: str


class FetchResult(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    generation: int


class FetchError(msgspec.Struct, frozen=True, kw_only=True):
    job_id: str
    generation: int


class Resubmit(msgspec.Struct, frozen=True, kw_only=True):
    """Run the task again, then report ``Resubmitted``."""

    job_id: str
    generation: int


class Release(msgspec.Struct, frozen=True, kw_only=True):
    """Let go of the task; ``unpublish`` its dataset too (a durable cluster)."""

    job_id: str
    unpublish: bool


class Reattach(msgspec.Struct, frozen=True, kw_only=True):
    """Once the client is connected, look for the job's published task and report ``Reattached``."""

    job_id: str
    generation: int


class ReleaseLater(msgspec.Struct, frozen=True, kw_only=True):
    """Report ``LingerOver`` after ``delay`` seconds."""

    job_id: str
    delay: float


Instruction = (
    AwaitEnd | Deliver | Replay | Stop | FetchResult | FetchError | Resubmit | Release | ReleaseLater | Reattach
)
