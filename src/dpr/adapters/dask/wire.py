"""What travels between the service and its Dask workers: names on the scheduler and the bytes
of tasks and events.

Only Structs encoded with msgspec cross the wire: a task is ``TaskSpec`` bytes, an event batch is
a msgpack list of tagged events. Names are derived from the job id alone so that any API
instance connected to the same scheduler finds the same task and cancellation flag.
"""

from __future__ import annotations

import msgspec

from dpr.domain.events import AnyEvent
from dpr.domain.run import WorkOrder

TOPIC = "dpr-events"
"""The scheduler event topic every job's event batches are logged under."""

KEY_PREFIX = "dpr-job-"


def task_key(job_id: str) -> str:
    """The Dask key (and published dataset name) of a job's task."""
    return f"{KEY_PREFIX}{job_id}"


def cancel_flag(job_id: str) -> str:
    """The name of the ``distributed.Event`` that asks a running job to stop."""
    return f"dpr-cancel-{job_id}"


class WorkerTuning(msgspec.Struct, frozen=True, kw_only=True):
    """How the worker side of a job behaves; chosen by the service, shipped with each task."""

    flush_interval: float = 0.2  # seconds between event batches of one job
    max_lines_per_batch: int = 500  # log lines beyond this in one batch are dropped (and counted)
    cancel_poll: float = 0.25  # seconds between two looks at the cancellation flag
    cancel_grace: float = 10.0  # SIGTERM -> SIGKILL delay for subprocesses


class TaskSpec(msgspec.Struct, frozen=True, kw_only=True):
    """Everything one task needs: the order (with only this run's secrets) and the tuning."""

    order: WorkOrder
    tuning: WorkerTuning = msgspec.field(default_factory=WorkerTuning)


_spec_decoder = msgspec.msgpack.Decoder(TaskSpec)
_batch_decoder = msgspec.msgpack.Decoder(list[AnyEvent])
_event_decoder = msgspec.msgpack.Decoder(AnyEvent)
_encode = msgspec.msgpack.encode  # the module function: worker threads encode concurrently


def encode_spec(spec: TaskSpec) -> bytes:
    return _encode(spec)


def decode_spec(data: bytes) -> TaskSpec:
    return _spec_decoder.decode(data)


def encode_events(events: list[AnyEvent]) -> bytes:
    return _encode(events)


def decode_events(data: bytes) -> list[AnyEvent]:
    return _batch_decoder.decode(data)


def encode_event(event: AnyEvent) -> bytes:
    return _encode(event)


def decode_event(data: bytes) -> AnyEvent:
    return _event_decoder.decode(data)
