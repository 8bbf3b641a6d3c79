"""Group commit: concurrent calls that each write one row share one statement and round trip."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")

# Outcomes of one flush, one per item in order: None for success, else the item's error.
Flush = Callable[[list[T]], Awaitable[list[BaseException | None]]]


class Batcher(Generic[T]):
    """Hands items to ``flush`` in batches: those submitted while a flush is running go
    together in the next one, so under load one round trip serves many callers and at rest
    an item is flushed at once, alone.

    Args:
        flush: writes a batch; returns each item's outcome, or raises to fail them all.
        max_batch: the most items in one flush.
    """

    def __init__(self, flush: Flush[T], max_batch: int = 200) -> None:
        self._flush, self._max_batch = flush, max_batch
        self._pending: list[tuple[T, asyncio.Future[None]]] = []
        self._task: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> None:
        """Return once ``item`` is written; raise its error if it was not."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((item, future))
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="dpr-sql-batch")
        await future

    async def drained(self) -> None:
        """Wait until every item submitted so far was flushed."""
        while self._task is not None and not self._task.done():
            await asyncio.shield(self._task)

    async def _run(self) -> None:
        while self._pending:
            batch, self._pending = self._pending[: self._max_batch], self._pending[self._max_batch :]
            try:
                outcomes = await self._flush([item for item, _ in batch])
            except asyncio.CancelledError:
                for _, future in batch + self._pending:
                    future.cancel()
                self._pending = []
                raise
            except Exception as error:  # every caller of the batch gets it
                outcomes = [error] * len(batch)
            for (_, future), outcome in zip(batch, outcomes, strict=True):
                if future.done():  # its caller gave up waiting; the row is written all the same
                    continue
                if outcome is None:
                    future.set_result(None)
                else:
                    future.set_exception(outcome)
