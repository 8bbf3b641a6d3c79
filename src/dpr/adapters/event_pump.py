"""Delivering executor events to the service in order, in batches a chatty processor cannot
turn into a write storm."""

from __future__ import annotations

import asyncio
import contextlib
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


class EventPump:
    """A queue fed from any thread (``put_threadsafe``) or the loop (``put``), drained by one
    task that awaits the handler for each (coalesced) event.

    With ``concurrency`` above 1, the events of up to that many jobs are handled at once, each
    job's still one after the other in order: a handler that waits on a database then keeps
    up with many short jobs instead of paying one round trip after another.
    """

    def __init__(self, handler: EventHandler, concurrency: int = 1) -> None:
        self._handler = handler
        self._concurrency = concurrency
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
            while not self._queue.empty():
                batch.append(self._queue.get_nowait())
            events = coalesce(batch)
            if self._concurrency == 1:
                await self._deliver(events)
            else:
                lanes: dict[str, list[AnyEvent]] = {}
                for event in events:
                    lanes.setdefault(event.job_id, []).append(event)
                limit = asyncio.Semaphore(self._concurrency)
                await asyncio.gather(*(self._deliver(lane, limit) for lane in lanes.values()))
            if self._queue.empty():
                self._idle.set()

    async def _deliver(self, events: list[AnyEvent], limit: asyncio.Semaphore | None = None) -> None:
        """Hand ``events`` to the handler in order (holding ``limit`` while doing so)."""
        async with limit or contextlib.nullcontext():
            for event in events:
                try:
                    await self._handler(event)
                except Exception:  # one bad event must not stop the others
                    log.exception("could not apply event %s for job %s", type(event).__name__, event.job_id)
