"""Running processors on the event loop's own thread, in time kept by a manual clock.

A processor is blocking code. Here each run is a greenlet on the loop's thread: the processor
runs until it waits (``context.sleep``), which hands control back to the loop until the manual
clock has moved past the end of the wait or the job is cancelled. Nothing runs in parallel and
nothing waits for real time, so what happens, and in which order, depends only on the calls
made and on how far the clock was moved: the fake executor's mode for fast, exact tests.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

import greenlet

from dpr.adapters.clock import ManualClock
from dpr.adapters.runner import Emit, run_order
from dpr.domain.run import WorkOrder

T = TypeVar("T")


class _Run(greenlet.greenlet):
    """A processor's run; code in it may wait for the loop with ``wait_on_loop``."""


def wait_on_loop(awaitable: Awaitable[T]) -> T:
    """From blocking code in a ``_Run``: suspend it until ``awaitable`` is done on the loop."""
    current = greenlet.getcurrent()
    if not isinstance(current, _Run) or current.parent is None:
        raise RuntimeError("wait_on_loop outside an inline run")
    result: T = current.parent.switch(awaitable)
    return result


async def run_blocking(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a ``_Run`` on this thread, awaiting what it waits on."""
    run = _Run(function)
    request = run.switch(*args)
    while not run.dead:
        try:
            value = await request
        except BaseException as error:  # handed to the waiting code, which decides
            request = run.throw(error)
        else:
            request = run.switch(value)
    result: T = request
    return result


class InlineRuns:
    """At most ``max_workers`` runs at once, the rest queued in order; waits end when ``advance``
    moves the clock past them, or at once when their job is cancelled."""

    def __init__(self, clock: ManualClock, max_workers: int, emit: Emit) -> None:
        self.clock, self._max, self._emit = clock, max_workers, emit
        self._queue: deque[WorkOrder] = deque()
        self._runs: dict[str, asyncio.Task[None]] = {}
        self._waits: dict[str, tuple[datetime, asyncio.Future[None]]] = {}
        self._cancelled: set[str] = set()
        self._closing = False

    def submit(self, order: WorkOrder) -> None:
        self._queue.append(order)
        self._fill()

    def knows(self, job_id: str) -> bool:
        return job_id in self._runs or any(o.job_id == job_id for o in self._queue)

    def cancel(self, job_id: str) -> None:
        queued = [o for o in self._queue if o.job_id == job_id]
        for order in queued:
            self._queue.remove(order)  # dropped: it never starts
        if job_id in self._runs:
            self._cancelled.add(job_id)
            self._wake(job_id)

    async def advance(self, seconds: float) -> None:
        """Move the clock on; return once every run it woke waits again or has ended."""
        now = self.clock.advance(seconds)
        for job_id, (until, _) in list(self._waits.items()):
            if until <= now:
                self._wake(job_id)
        await self.settled()

    async def settled(self) -> None:
        """Return once no run can go on without the clock moving."""
        while not self._idle():  # noqa: ASYNC110 - each pass lets the runs step; no event says "all wait"
            await asyncio.sleep(0)

    async def close(self) -> None:
        self._closing = True
        self._queue.clear()
        for job_id in list(self._runs):
            self._wake(job_id)
        await asyncio.gather(*self._runs.values(), return_exceptions=True)

    def _idle(self) -> bool:
        blocked = all(
            job_id in self._waits and not self._waits[job_id][1].done() for job_id in self._runs
        )  # a run not waiting (or woken) is still going
        return blocked and not (self._queue and len(self._runs) < self._max)

    def _fill(self) -> None:
        while self._queue and len(self._runs) < self._max and not self._closing:
            order = self._queue.popleft()
            self._runs[order.job_id] = asyncio.create_task(self._run(order), name=f"dpr-inline-{order.job_id}")

    async def _run(self, order: WorkOrder) -> None:
        job_id = order.job_id
        try:
            await run_blocking(
                run_order, order, self._emit, lambda: self._stopping(job_id), self.clock.now, self._sleep
            )
        finally:
            del self._runs[job_id]
            self._cancelled.discard(job_id)
            self._fill()

    def _stopping(self, job_id: str) -> bool:
        return self._closing or job_id in self._cancelled

    def _sleep(self, seconds: float) -> None:
        """``context.sleep`` of the current run: wait on the loop until the clock is past it."""
        job_id = next(j for j, task in self._runs.items() if task is asyncio.current_task())
        until = self.clock.now() + timedelta(seconds=seconds)
        if seconds <= 0:
            return
        woken: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waits[job_id] = (until, woken)
        try:
            wait_on_loop(woken)
        finally:
            del self._waits[job_id]

    def _wake(self, job_id: str) -> None:
        if job_id in self._waits and not (woken := self._waits[job_id][1]).done():
            woken.set_result(None)
