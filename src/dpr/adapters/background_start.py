"""An executor whose cluster starts in the background: the service answers at once, and the
jobs submitted meanwhile wait (``accepted``) until it is up."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import UTC, datetime

from dpr.domain.errors import DomainError
from dpr.domain.events import Failed
from dpr.domain.job import Job
from dpr.domain.run import WorkOrder
from dpr.ports.executor import EventHandler, Executor

log = logging.getLogger(__name__)

RETRY_FIRST, RETRY_MAX = 2.0, 30.0  # seconds between attempts to start a cluster that failed to


class BackgroundStart(Executor):
    """The executor ``make`` builds (in a thread: building it may import heavy libraries),
    started by a task of its own: ``start`` returns at once.

    Until it has started, submitted orders are kept here (in submission order) and handed to it
    once it is up; a dismissed one is dropped. ``adopt`` waits for the start. A start that fails
    is tried again with back-off; ``starting()`` says why jobs wait.

    Args:
        make: builds the executor to start.
        what: what is starting, for the reasons given (``the embedded Dask cluster``).
        reference: the reference the built executor gives an order (it must tell beforehand);
            those of the orders kept here are answered with it.
        durable: whether the built executor's jobs outlive this process.
        delay: seconds to wait before building it, so the service's own start-up (and its port
            opening) does not compete with the build's imports for the interpreter.
    """

    def __init__(
        self,
        make: Callable[[], Executor],
        what: str = "the cluster",
        *,
        reference: Callable[[WorkOrder], str],
        durable: bool = False,
        delay: float = 0.0,
    ) -> None:
        self.make, self.what, self._reference, self._durable = make, what, reference, durable
        self.delay = delay
        self.inner: Executor | None = None
        self._waiting: dict[str, WorkOrder] = {}
        self._up = asyncio.Event()
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._reason: str | None = f"{what} is starting"

    async def start(self, handler: EventHandler) -> None:
        self._task = asyncio.create_task(self._starting(handler), name="dpr-executor-start")

    async def _starting(self, handler: EventHandler) -> None:
        await self._pause(self.delay)
        delay = RETRY_FIRST
        while not self._closing.is_set():
            try:
                if self.inner is None:
                    self.inner = await asyncio.to_thread(self.make)
                await self.inner.start(handler)
            except Exception as e:  # a cluster that cannot start: tell why, try again
                self._reason = f"{self.what} could not start ({e}); trying again in {delay:.0f} s"
                log.error("%s could not start: %s", self.what, e, exc_info=not isinstance(e, DomainError))
                await self._pause(delay)
                delay = min(delay * 2, RETRY_MAX)
                continue
            self._reason = None
            self._up.set()
            log.info("%s is up: %d waiting job(s) go to it", self.what, len(self._waiting))
            while self._waiting and not self._closing.is_set():
                order = self._waiting.pop(next(iter(self._waiting)))
                await self._hand_over(order, handler)
            return

    async def _pause(self, seconds: float) -> None:
        """Wait ``seconds``, or less when the executor is closed meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _hand_over(self, order: WorkOrder, handler: EventHandler) -> None:
        try:
            await self._up_one().submit(order)
        except DomainError as e:
            reason = f"could not be submitted: {e.describe()}"
            await handler([Failed(job_id=order.job_id, at=datetime.now(UTC), error=reason)])

    async def submit(self, order: WorkOrder) -> str:
        if self._up.is_set():
            return await self._up_one().submit(order)
        self._waiting[order.job_id] = order
        return self._reference(order)

    def reference(self, order: WorkOrder) -> str | None:
        return self._reference(order)

    async def cancel(self, job: Job) -> None:
        if self._waiting.pop(job.job_id, None) is None and self._up.is_set():
            await self._up_one().cancel(job)

    async def adopt(self, job: Job) -> bool:
        if job.job_id in self._waiting:
            return True
        await self._up.wait()
        return await self._up_one().adopt(job)

    async def close(self) -> None:
        # A start under way is let finish (a cluster half started would leave processes behind);
        # orders still waiting then stay ``accepted`` in the store, for the next start to re-queue.
        self._closing.set()
        if self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        if self.inner is not None:
            await self.inner.close()

    def dashboard_link(self) -> str | None:
        return self.inner.dashboard_link() if self.inner is not None else None

    @property
    def durable(self) -> bool:
        return self._durable

    def starting(self) -> str | None:
        return self._reason

    async def started(self) -> None:
        await self._up.wait()

    def _up_one(self) -> Executor:
        assert self.inner is not None, "started"
        return self.inner
