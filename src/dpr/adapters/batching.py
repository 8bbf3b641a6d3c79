"""Coalescing many small writes or messages into few: the one batching helper of the adapters.

- ``GroupCommit``: on an event loop, one flush in flight; what arrives meanwhile goes together
  in the next one (SQL inserts, scheduler publish calls, executor events to the service). At rest
  an item is flushed at once, alone; under load one round trip serves many.
- ``Gathered``: from any thread, items held until a timer fires (or an urgent one arrives),
  so a chatty producer sends at most one batch per interval (a job's events on a Dask worker).
- ``SharedReads``: concurrent calls of one read with the same argument share one query (a
  count every submission asks for).
- ``BatchedReads``: concurrent point reads of different keys go as one query (a job's row).
- ``coalesce``: runs of progress reports of one job merged into the last.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
from collections import deque
from collections.abc import Awaitable, Callable, Hashable, Iterable, Mapping, Sequence
from typing import Any, Generic, TypeVar

from dpr.domain.events import AnyEvent, Progressed

log = logging.getLogger(__name__)

T = TypeVar("T")
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

Outcomes = Sequence[BaseException | None] | None
"""What a flush returns: ``None`` when every item was written, else one outcome per item in order
(``None`` for success, or the item's error). A flush that raises fails every item."""


class GroupCommit(Generic[T]):
    """Hands ``flush`` the items that arrived while the previous flush ran, at most ``max_batch``
    at a time, in the order they came.

    ``submit`` waits for its item's outcome; ``put`` and ``put_threadsafe`` do not (their errors
    are logged). A caller that stops waiting does not take its item out of the batch.

    Args:
        flush: writes a batch (see ``Outcomes``).
        max_batch: the most items in one flush (``None``: no bound).
        name: names the flushing task and the log lines of failed batches.
        loop: the loop ``put_threadsafe`` hands items to (only needed for that).
    """

    def __init__(
        self,
        flush: Callable[[list[T]], Awaitable[Outcomes]],
        *,
        max_batch: int | None = None,
        name: str = "batch",
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._flush, self._max_batch, self._name, self._loop = flush, max_batch, name, loop
        self._pending: deque[tuple[T, asyncio.Future[None] | None]] = deque()
        self._task: asyncio.Task[None] | None = None
        self._inbox: deque[T] = deque()  # from other threads, until the loop takes them
        self._wakeup_pending = False

    async def submit(self, item: T) -> None:
        """Return once ``item`` is written; raise its error if it was not."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._enqueue(item, future)
        await future

    def put(self, item: T) -> None:
        """Queue ``item`` from the loop's thread without waiting."""
        self._enqueue(item, None)

    def put_threadsafe(self, item: T) -> None:
        """Queue ``item`` from any thread. One wake-up of the loop carries every item other
        threads put meanwhile: a wake-up per item costs the loop a pipe write and read, and the
        threads a GIL hand-over."""
        loop = self._loop
        assert loop is not None, "put_threadsafe needs the loop given at construction"
        self._inbox.append(item)
        if not self._wakeup_pending and not loop.is_closed():
            self._wakeup_pending = True
            loop.call_soon_threadsafe(self._take_inbox)

    async def drained(self) -> None:
        """Wait until every item queued so far was flushed."""
        while self._task is not None and not self._task.done():
            await asyncio.wait([self._task])

    async def close(self) -> None:
        """Stop flushing; the items still queued are dropped (their callers see a cancellation)."""
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            await asyncio.wait([task])
        self._cancel_pending()

    def _take_inbox(self) -> None:
        self._wakeup_pending = False  # before draining: an item appended from now on wakes again
        while self._inbox:
            self.put(self._inbox.popleft())

    def _enqueue(self, item: T, future: asyncio.Future[None] | None) -> None:
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run(), name=f"dpr-{self._name}")

    async def _run(self) -> None:
        while self._pending:
            size = len(self._pending) if self._max_batch is None else min(self._max_batch, len(self._pending))
            batch = [self._pending.popleft() for _ in range(size)]
            try:
                outcomes = await self._outcomes([item for item, _ in batch])
            except asyncio.CancelledError:
                self._pending.extendleft(reversed(batch))
                self._cancel_pending()
                raise
            self._settle(batch, outcomes)

    async def _outcomes(self, items: list[T]) -> Sequence[BaseException | None]:
        try:
            outcomes = await self._flush(items)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # every item of the batch gets it
            return [error] * len(items)
        return [None] * len(items) if outcomes is None else outcomes

    def _settle(
        self, batch: list[tuple[T, asyncio.Future[None] | None]], outcomes: Sequence[BaseException | None]
    ) -> None:
        unheard = [outcome for (_, future), outcome in zip(batch, outcomes, strict=True) if future is None and outcome]
        if unheard:
            log.warning("%s of %d item(s): %d failed: %s", self._name, len(batch), len(unheard), unheard[0])
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future is None or future.done():  # nobody waits, or its caller gave up waiting
                continue
            if outcome is None:
                future.set_result(None)
            else:
                future.set_exception(outcome)

    def _cancel_pending(self) -> None:
        while self._pending:
            _, future = self._pending.popleft()
            if future is not None:
                future.cancel()


class SharedReads(Generic[K, V]):
    """Runs ``read(key)`` for callers asking at the same time once: a call waits for the next
    read of its key to start after it was made (so it sees every write that ended before it),
    and every call that waited for that read gets its result or its error. At rest each call is
    one read; under load one read in flight per key serves the callers that arrived meanwhile.
    """

    def __init__(self, read: Callable[[K], Awaitable[V]], *, name: str = "read") -> None:
        self._read, self._name = read, name
        self._next: dict[K, asyncio.Future[V]] = {}  # per key, the read not started yet
        self._running: dict[K, asyncio.Task[None]] = {}

    async def __call__(self, key: K) -> V:
        future = self._next.get(key)
        if future is None:
            future = self._next[key] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_consume)  # no "never retrieved" when every caller gave up
            if key not in self._running:
                self._running[key] = asyncio.get_running_loop().create_task(self._run(key), name=f"dpr-{self._name}")
        return await asyncio.shield(future)  # one caller giving up must not cancel the others' read

    async def _run(self, key: K) -> None:
        try:
            while (future := self._next.pop(key, None)) is not None:
                try:
                    future.set_result(await self._read(key))
                except asyncio.CancelledError:
                    future.cancel()
                    raise
                except Exception as error:
                    future.set_exception(error)
        finally:
            del self._running[key]
            if (waiting := self._next.pop(key, None)) is not None:  # only when cancelled
                waiting.cancel()


class BatchedReads(Generic[K, V]):
    """Point reads by key asked at the same time go to the store as one (``read_many``): a call
    waits for the next batch that starts after it was made (so it sees every write that ended
    before it). At rest each call is one read of one key; under load one read in flight serves
    every key asked meanwhile, up to ``max_batch`` keys at a time, and a connection checkout
    and a round trip are paid per batch instead of per call.

    Args:
        read_many: the values of the keys found (a key not in the result has none: ``None``).
        max_batch: the most keys in one read.
        name: names the reading task.
    """

    def __init__(
        self, read_many: Callable[[list[K]], Awaitable[Mapping[K, V]]], *, max_batch: int = 256, name: str = "reads"
    ) -> None:
        self._read_many, self._max_batch, self._name = read_many, max_batch, name
        self._waiting: dict[K, asyncio.Future[V | None]] = {}  # per key, the read not started yet
        self._task: asyncio.Task[None] | None = None

    async def __call__(self, key: K) -> V | None:
        future = self._waiting.get(key)
        if future is None:
            future = self._waiting[key] = asyncio.get_running_loop().create_future()
            future.add_done_callback(_consume)  # no "never retrieved" when every caller gave up
            if self._task is None or self._task.done():
                self._task = asyncio.get_running_loop().create_task(self._run(), name=f"dpr-{self._name}")
        return await asyncio.shield(future)  # one caller giving up must not cancel the others' read

    async def _run(self) -> None:
        while self._waiting:
            keys = list(itertools.islice(self._waiting, self._max_batch))
            batch = [(key, self._waiting.pop(key)) for key in keys]
            try:
                found = await self._read_many(keys)
            except asyncio.CancelledError:
                for _, future in batch:
                    future.cancel()
                for future in self._waiting.values():
                    future.cancel()
                self._waiting.clear()
                raise
            except Exception as error:
                for _, future in batch:
                    if not future.done():
                        future.set_exception(error)
                continue
            for key, future in batch:
                if not future.done():
                    future.set_result(found.get(key))


def _consume(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


class Gathered(Generic[T]):
    """Items from any thread, sent in order as lists: at once when an urgent item arrives, else
    at most ``interval`` seconds after the first item of the batch.

    Args:
        send: sends one batch (under the batcher's lock, so batches go out in order).
        later: runs a callable after a delay (a timer, an event loop's ``call_later``).
        interval: seconds a non-urgent item may wait.
    """

    def __init__(
        self, send: Callable[[list[T]], None], later: Callable[[float, Callable[[], None]], None], interval: float
    ) -> None:
        self._send, self._later, self._interval = send, later, interval
        self._lock = threading.Lock()
        self._pending: list[T] = []
        self._armed = False

    def add(self, item: T, *, urgent: bool = False) -> None:
        with self._lock:
            self._pending.append(item)
            arm = not urgent and not self._armed
            self._armed = self._armed or arm
        if urgent:
            self.flush()
        elif arm:
            self._later(self._interval, self.flush)

    def flush(self) -> None:
        """Send what is pending now (a timer that fires later finds nothing, or the next batch)."""
        with self._lock:  # sending under the lock keeps batches in order
            items, self._pending, self._armed = self._pending, [], False
            if items:
                self._send(items)


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
