"""Delivering executor events to the service in order, in batches a chatty processor cannot
turn into a write storm."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable

from dpr.domain.events import AnyEvent, Progressed
from dpr.ports.executor import EventHandler

log = logging.getLogger(__name__)


def coalesce(events: Iterable[AnyEvent]) -> list[AnyEvent]:
    """Merge runs of consecutive ``Progressed`` events of one job into the last one (keeping the
    highest progress and the latest message). Order of everything else is kept."""
    out: list[AnyEvent] = []
    for event in events:
        prev = out[-1] if out else None
        if isinstance(event, Progressed) and isinstance(prev, Progressed) and prev.job_id == event.job_id:
            progress = max((p for p in (prev.progress, event.progress) if p is not None), default=None)
            message = event.message if event.message is not None else prev.message
            out[-1] = Progressed(job_id=event.job_id, at=event.at, progress=progress, message=message)
        else:
            out.append(event)
    return out


MAX_BATCH = 1000  # events per handler call: a backlog is recorded in bounded transactions


class EventPump:
    """A queue fed from any thread (``put_threadsafe``) or the loop (``put``), drained by one
    task that hands the handler everything that arrived meanwhile, coalesced, in one call.

    While the handler records a batch (one database transaction, say), the next one gathers:
    at rest each event is handed over alone and at once; under load one write serves many
    events (group commit), so recording keeps up with many short jobs.
    """

    def __init__(self, handler: EventHandler, max_batch: int = MAX_BATCH) -> None:
        self._handler, self._max_batch = handler, max_batch
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[AnyEvent] = asyncio.Queue()
        self._task = asyncio.create_task(self._drain(), name="dpr-event-pump")
        self._idle = asyncio.Event()
        self._idle.set()
        self._inbox: deque[AnyEvent] = deque()  # from other threads, until the loop takes them
        self._wakeup_pending = False

    def put(self, event: AnyEvent) -> None:
        self._idle.clear()
        self._queue.put_nowait(event)

    def put_threadsafe(self, event: AnyEvent) -> None:
        # One wake-up of the loop carries every event other threads put meanwhile: a wake-up
        # per event costs the loop a pipe write and read, and the threads a GIL hand-over.
        self._inbox.append(event)
        if not self._wakeup_pending and not self._loop.is_closed():
            self._wakeup_pending = True
            self._loop.call_soon_threadsafe(self._take_inbox)

    def _take_inbox(self) -> None:
        self._wakeup_pending = False  # before draining: an event appended from now on wakes again
        while self._inbox:
            self.put(self._inbox.popleft())

    async def drained(self) -> None:
        """Wait until every event put so far has been handled."""
        await self._idle.wait()

    async def close(self) -> None:
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass

    async def _drain(self) -> None:
        while True:
            batch = [await self._queue.get()]
            while len(batch) < self._max_batch and not self._queue.empty():
                batch.append(self._queue.get_nowait())
            try:
                await self._handler(coalesce(batch))
            except Exception:  # a bad batch must not stop the pump
                log.exception("could not record %d executor events", len(batch))
            if self._queue.empty():
                self._idle.set()
