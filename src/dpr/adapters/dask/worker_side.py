"""The worker side of a job: the module-level task function and its helpers.

Only ``TaskSpec`` bytes reach the worker and only event bytes leave it. Events go to the scheduler's
``dpr-events`` topic in batches (``worker_events``): the outcome at once, ``Started``, progress
and log lines at most every ``flush_interval`` seconds, coalesced and capped so a chatty processor
cannot flood the API (and a short job sends one batch: each costs the scheduler and the service a
message). Each execution of the task numbers the events it sends (a fresh ``run`` id, ``seq`` from
0, after coalescing and capping), so the service stores each one once and sees gaps and re-runs.
The scheduler keeps the last ``distributed.admin.low-level-log-length`` batches of the topic (of all
jobs): an instance that adopts a job replays what it missed from there.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable

from distributed import Event, Worker, get_worker

from dpr.adapters.dask.tracing import job_span
from dpr.adapters.dask.wire import TOPIC, cancel_flag, decode_spec, encode_event
from dpr.adapters.dask.worker_events import Numbering, emitter, event_batches
from dpr.adapters.runner import run_order, utcnow
from dpr.adapters.subprocess_runner import default_grace
from dpr.domain.events import Failed

log = logging.getLogger(__name__)


def dask_task(spec_bytes: bytes) -> bytes:
    """Run one job on this worker; returns the encoded final event. Never raises, so the
    task's arguments (which carry the run's secrets) never end up in a worker's error log."""
    try:
        spec = decode_spec(spec_bytes)
    except Exception as e:  # a service/worker version mismatch; the service fills in the job id
        return encode_event(Failed(job_id="", at=utcnow(), error=f"the worker cannot read the task: {e}"))
    order, tuning = spec.order, spec.tuning
    worker = get_worker()
    batches = event_batches(_sender(worker), _scheduler(worker), tuning, Numbering(uuid.uuid4().hex))
    emit = emitter(batches)
    flag = CancelFlag(order.job_id, tuning.cancel_poll)
    grace = default_grace.set(tuning.cancel_grace)
    try:
        with job_span(order, worker.address):
            final = run_order(order, emit, flag)
    except Exception as e:  # tracing or the cluster itself failed around the processor
        final = Failed(job_id=order.job_id, at=utcnow(), error=f"the worker could not run the job: {type(e).__name__}")
        emit(final)
    finally:
        default_grace.reset(grace)
        batches.flush()
        flag.tidy()
    return encode_event(final)


class CancelFlag:
    """The worker's view of the job's cancellation flag: asks the scheduler at most every
    ``every`` seconds, the first time ``every`` seconds into the run, and remembers a ``True``
    for good. A job shorter than that never asks (a round trip to the scheduler per job): one
    dismissed before it started had its task dropped, and one dismissed as it started still
    stops within ``every`` seconds."""

    def __init__(self, job_id: str, every: float) -> None:
        self._name, self._every = cancel_flag(job_id), every
        self._event: Event | None = None
        self._next = time.monotonic() + every
        self._set = False

    def __call__(self) -> bool:
        if self._set:
            return True
        now = time.monotonic()
        if now >= self._next:
            self._next = now + self._every
            try:
                if self._event is None:
                    self._event = Event(self._name)
                self._set = bool(self._event.is_set())
            except Exception:  # scheduler briefly unreachable: ask again next time
                log.debug("could not read %s", self._name, exc_info=True)
        return self._set

    def tidy(self) -> None:
        """Clear a flag this run saw set, so the scheduler does not keep it forever."""
        if self._set and self._event is not None:
            try:
                self._event.clear()
            except Exception:
                log.debug("could not clear %s", self._name, exc_info=True)


def _sender(worker: Worker) -> Callable[[bytes], None]:
    loop, log_event = worker.loop, worker.log_event
    # Always through the loop's FIFO queue, from any thread, so batches keep their order.
    return lambda data: loop.add_callback(log_event, TOPIC, data)


def _scheduler(worker: Worker) -> Callable[[float, Callable[[], None]], None]:
    loop = worker.loop
    return lambda delay, fn: loop.add_callback(loop.call_later, delay, fn)
