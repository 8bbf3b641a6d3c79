"""A job's events on the worker, batched: numbered per run, coalesced and capped, sent in order.

The worker side (``worker_side``) feeds them to the scheduler's ``dpr-events`` topic; nothing
here needs a Dask worker, so the batching is tested without one.
"""

from __future__ import annotations

from collections.abc import Callable

from msgspec.structs import replace

from dpr.adapters.batching import Gathered, coalesce
from dpr.adapters.dask.wire import WorkerTuning, encode_events
from dpr.adapters.runner import utcnow
from dpr.domain.events import AnyEvent, Failed, Logged, Succeeded

URGENT = (Succeeded, Failed)  # ``Started`` waits for the outcome or the next batch


class Numbering:
    """Numbers one run's events in the order they are sent (batches are sent one at a time)."""

    def __init__(self, run: str) -> None:
        self.run, self.next = run, 0

    def __call__(self, events: list[AnyEvent]) -> list[AnyEvent]:
        numbered = [replace(e, run=self.run, seq=self.next + i) for i, e in enumerate(events)]
        self.next += len(numbered)
        return numbered


def event_batches(
    send: Callable[[bytes], None],
    later: Callable[[float, Callable[[], None]], None],
    tuning: WorkerTuning,
    number: Callable[[list[AnyEvent]], list[AnyEvent]],
) -> Gathered[AnyEvent]:
    """A job's events, sent in order as encoded, numbered batches: coalesced and capped every
    ``flush_interval`` seconds, at once for the outcome."""
    return Gathered(
        lambda events: send(encode_events(number(cap_lines(coalesce(events), tuning)))), later, tuning.flush_interval
    )


def emitter(batches: Gathered[AnyEvent]) -> Callable[[AnyEvent], None]:
    return lambda event: batches.add(event, urgent=isinstance(event, URGENT))


def cap_lines(events: list[AnyEvent], tuning: WorkerTuning) -> list[AnyEvent]:
    """At most ``max_lines_per_batch`` log lines; the rest are replaced by one warning."""
    limit, lines, kept = tuning.max_lines_per_batch, 0, []
    for event in events:
        if isinstance(event, Logged):
            lines += 1
            if lines > limit:
                continue
        kept.append(event)
    if lines <= limit:
        return kept
    note = Logged(
        job_id=events[0].job_id,
        at=utcnow(),
        level="WARNING",
        line=f"{lines - limit} log line(s) dropped: more than {limit} within {tuning.flush_interval:g} s",
    )
    end = next((i for i, e in enumerate(kept) if isinstance(e, (Succeeded, Failed))), len(kept))
    return [*kept[:end], note, *kept[end:]]
