"""Runs processors in this process: the executor for tests and ``--ephemeral``.

It is "fake" only in that there is no cluster: processors really run, report progress and
honour cancellation, and it passes the same contract suite as the Dask executor. It has two
modes: threads (the default, real time), and inline on the event loop's thread in the time of
a manual clock (``clock=``), where nothing happens until the loop or the clock lets it: fast and
exactly repeatable, for unit tests.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor

from dpr.adapters.clock import ManualClock
from dpr.adapters.event_pump import EventPump
from dpr.adapters.inline_runs import InlineRuns
from dpr.adapters.runner import run_order
from dpr.domain.events import AnyEvent
from dpr.domain.job import Job
from dpr.domain.run import WorkOrder
from dpr.ports.executor import EventHandler, Executor


class FakeExecutor(Executor):
    """At most ``max_workers`` jobs run at once; the rest wait (their jobs stay ``accepted``).

    With a ``clock``, jobs run inline and their processors' ``context.sleep`` lasts until
    ``advance`` moves that clock past it (or the job is cancelled).
    """

    def __init__(self, max_workers: int = 4, clock: ManualClock | None = None) -> None:
        self.max_workers, self.clock = max_workers, clock
        self._pump: EventPump | None = None
        self._pool: ThreadPoolExecutor | None = None
        self._inline: InlineRuns | None = None
        # Read by the job threads through ``cancelled()``; a set and a flag cost less per job
        # than a threading.Event each.
        self._cancelled: set[str] = set()
        self._closing = False
        self._futures: dict[str, Future[AnyEvent]] = {}

    async def start(self, handler: EventHandler) -> None:
        self._pump = EventPump(handler)
        if self.clock is not None:
            self._inline = InlineRuns(self.clock, self.max_workers, self._pump.put)
        else:
            self._pool = ThreadPoolExecutor(self.max_workers, thread_name_prefix="dpr-job")

    async def submit(self, order: WorkOrder) -> str:
        assert self._pump is not None, "start() first"
        job_id = order.job_id
        if self._inline is not None:
            self._inline.submit(order)
            return self.reference(order)
        assert self._pool is not None

        def cancelled() -> bool:
            return self._closing or job_id in self._cancelled

        # A plain pool future: its outcome is in the events, so the loop need not hear of it.
        future = self._pool.submit(run_order, order, self._pump.put_threadsafe, cancelled)
        self._futures[job_id] = future
        future.add_done_callback(lambda _: self._forget(job_id))  # on the job's thread
        return self.reference(order)

    def reference(self, order: WorkOrder) -> str:
        return f"fake:{order.job_id}"

    async def cancel(self, job: Job) -> None:
        job_id = job.job_id
        if self._inline is not None:
            self._inline.cancel(job_id)
            return
        future = self._futures.get(job_id)
        if future is not None:
            self._cancelled.add(job_id)
            future.cancel()  # drops it if still queued; a running thread sees the flag instead

    async def adopt(self, job: Job) -> bool:
        if self._inline is not None:
            return self._inline.knows(job.job_id)
        return job.job_id in self._futures

    async def close(self) -> None:
        self._closing = True
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
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

    def _forget(self, job_id: str) -> None:
        self._futures.pop(job_id, None)
        self._cancelled.discard(job_id)
