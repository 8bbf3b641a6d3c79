"""Runs processors in this process: the executor for tests and ``--ephemeral``.

It is "fake" only in that there is no cluster: processors really run, report progress and
honour cancellation, and it passes the same contract suite as the Dask executor. It has two
modes: threads (the default, real time), and inline on the event loop's thread in the time of
a manual clock (``clock=``), where nothing happens until the loop or the clock lets it: fast and
exactly repeatable, for unit tests.
"""

from __future__ import annotations

import logging
import queue
import threading

from dpr.adapters.clock import ManualClock
from dpr.adapters.event_pump import EventPump
from dpr.adapters.inline_runs import InlineRuns
from dpr.adapters.runner import run_order
from dpr.domain.job import Job
from dpr.domain.run import WorkOrder
from dpr.ports.executor import EventHandler, Executor

log = logging.getLogger(__name__)


class FakeExecutor(Executor):
    """At most ``max_workers`` jobs run at once; the rest wait (their jobs stay ``accepted``).

    With a ``clock``, jobs run inline and their processors' ``context.sleep`` lasts until
    ``advance`` moves that clock past it (or the job is cancelled).
    """

    def __init__(self, max_workers: int = 4, clock: ManualClock | None = None) -> None:
        self.max_workers, self.clock = max_workers, clock
        self._pump: EventPump | None = None
        self._inline: InlineRuns | None = None
        # Read by the job threads through ``cancelled()``; a set and a flag cost less per job
        # than a threading.Event each.
        self._cancelled: set[str] = set()
        self._closing = False
        # Thread mode: the jobs queued or running, one queue of orders, the job threads.
        # A ThreadPoolExecutor made a Future (a lock and a condition) per job and took two
        # locks per submit, where a job of its own thread needs only a queue put.
        self._known: set[str] = set()
        self._queue: queue.SimpleQueue[WorkOrder | None] | None = None
        self._threads: list[threading.Thread] = []

    async def start(self, handler: EventHandler) -> None:
        self._pump = EventPump(handler)
        if self.clock is not None:
            self._inline = InlineRuns(self.clock, self.max_workers, self._pump.put)
        else:
            self._queue = queue.SimpleQueue()
            self._threads = [
                threading.Thread(target=self._work, args=(self._queue,), name=f"dpr-job_{n}", daemon=True)
                for n in range(self.max_workers)
            ]
            for thread in self._threads:
                thread.start()

    async def submit(self, order: WorkOrder) -> str:
        assert self._pump is not None, "start() first"
        job_id = order.job_id
        if self._inline is not None:
            self._inline.submit(order)
            return self.reference(order)
        assert self._queue is not None
        # Its outcome is in the events, so the loop need not hear of the thread's end.
        self._known.add(job_id)
        self._queue.put(order)
        return self.reference(order)

    def reference(self, order: WorkOrder) -> str:
        return f"fake:{order.job_id}"

    async def cancel(self, job: Job) -> None:
        job_id = job.job_id
        if self._inline is not None:
            self._inline.cancel(job_id)
            return
        if job_id in self._known:
            self._cancelled.add(job_id)  # a queued order is dropped; a running job sees the flag

    async def adopt(self, job: Job) -> bool:
        if self._inline is not None:
            return self._inline.knows(job.job_id)
        return job.job_id in self._known

    async def close(self) -> None:
        self._closing = True  # queued orders are dropped, running jobs see it as a cancellation
        if self._queue is not None:
            for _ in self._threads:
                self._queue.put(None)
        if self._inline is not None:
            await self._inline.close()
        if self._pump is not None:
            await self._pump.drained()
            await self._pump.close()

    async def drained(self) -> None:
        """Wait until every event emitted so far was handled (for tests)."""
        if self._pump is not None:
            await self._pump.drained()

    async def advance(self, seconds: float = 0) -> None:
        """Inline mode: move the clock on ``seconds``, let the jobs this wakes run until they wait
        again or end, and return once their events were handled."""
        assert self._inline is not None, "advance() needs a FakeExecutor with a clock"
        await self._inline.advance(seconds)
        await self.drained()

    def _work(self, orders: queue.SimpleQueue[WorkOrder | None]) -> None:
        """A job thread: runs the orders it takes until it takes ``None``."""
        assert self._pump is not None
        emit = self._pump.put_threadsafe
        while (order := orders.get()) is not None:
            job_id = order.job_id

            def cancelled(job_id: str = job_id) -> bool:
                return self._closing or job_id in self._cancelled

            try:
                if not cancelled():
                    run_order(order, emit, cancelled)
            except BaseException:  # run_order reports a processor's errors; this is emit failing
                log.exception("job %s: its thread failed", job_id)
            finally:
                self._known.discard(job_id)
                self._cancelled.discard(job_id)
