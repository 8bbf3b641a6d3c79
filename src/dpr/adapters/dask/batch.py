"""Grouping many small scheduler calls into few: one call in flight, the rest wait for the next."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


class Batcher(Generic[T]):
    """Hands ``flush`` everything added while the previous flush was running.

    Under load one round trip serves hundreds of jobs; when idle an item goes out at once.
    """

    def __init__(self, flush: Callable[[list[T]], Awaitable[None]], name: str) -> None:
        self._flush, self._name = flush, name
        self._items: list[T] = []
        self._waiter: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None

    async def add(self, item: T) -> None:
        """Queue ``item`` and wait until the flush that carried it is done (its error raises)."""
        await asyncio.shield(self._enqueue(item))

    def add_nowait(self, item: T) -> None:
        """Queue ``item``; failures are logged, not raised."""
        self._enqueue(item)

    async def idle(self) -> None:
        """Wait until everything queued so far was flushed."""
        while self._task is not None:
            await asyncio.wait([self._task])

    def _enqueue(self, item: T) -> asyncio.Future[None]:
        if self._waiter is None:
            self._waiter = asyncio.get_running_loop().create_future()
            self._waiter.add_done_callback(_consume)
        self._items.append(item)
        waiter = self._waiter
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"dpr-{self._name}")
        return waiter

    async def _run(self) -> None:
        try:
            while self._items:
                items, waiter = self._items, self._waiter
                self._items, self._waiter = [], None
                assert waiter is not None
                try:
                    await self._flush(items)
                except Exception as e:
                    log.warning("%s of %d item(s) failed: %s", self._name, len(items), e)
                    waiter.set_exception(e)
                else:
                    waiter.set_result(None)
        finally:
            self._task = None


def _consume(future: asyncio.Future[None]) -> None:
    """Mark an error as retrieved: ``add_nowait`` callers never look at it."""
    if not future.cancelled():
        future.exception()
