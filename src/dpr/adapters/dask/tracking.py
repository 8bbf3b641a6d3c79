"""Following the jobs this service instance reports on, from their task to their outcome.

Events arrive as batches on the scheduler's topic; each watched task is also awaited, so an
outcome whose batch was missed still comes from the task's return value or error. A worker
dying under a job is retried here while the job's ``retries`` allow.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from distributed import Future
from distributed.client import FutureCancelledError
from msgspec.structs import replace

from dpr.adapters.dask.scheduler_calls import SchedulerCalls
from dpr.adapters.dask.watch import FINAL, Watch, failure_of
from dpr.adapters.dask.wire import TOPIC, decode_event, decode_events
from dpr.adapters.event_pump import EventPump
from dpr.adapters.runner import utcnow
from dpr.domain.events import AnyEvent, Failed, Logged, Started
from dpr.ports.executor import EventHandler

log = logging.getLogger(__name__)

DROPPED = "the cluster dropped this job before it finished ({})"


class JobTracker:
    """The watched jobs of one executor, and the single queue their events reach the service by."""

    def __init__(self, calls: SchedulerCalls, handler: EventHandler, *, durable: bool, linger: float) -> None:
        self.calls, self.durable, self.linger = calls, durable, linger
        self._handler = handler
        self._jobs: dict[str, Watch] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump = EventPump(self._deliver)

    def get(self, job_id: str) -> Watch | None:
        return self._jobs.get(job_id)

    def watch(self, job_id: str, watch: Watch) -> None:
        self._jobs[job_id] = watch
        self.spawn(self._await_end(job_id, watch.future))

    def drop(self, job_id: str) -> None:
        """Stop watching without a word to the scheduler (the task is being cancelled)."""
        self._jobs.pop(job_id, None)

    def on_topic(self, message: tuple[float, Any]) -> None:
        """A batch from a worker; only the jobs this instance watches count."""
        try:
            batch = decode_events(message[1])
        except Exception:
            log.warning("ignoring an undecodable message on topic %s", TOPIC)
            return
        for event in batch:
            watch = self._jobs.get(event.job_id)
            if watch is not None and not watch.final_seen:
                self._put(watch, event)

    async def drained(self) -> None:
        await self._pump.drained()

    async def close(self) -> None:
        """Deliver what was received, then stop watching (the tasks go on on a durable cluster)."""
        await self._pump.drained()
        await self._pump.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._jobs.clear()

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            result = fn(*args)
            if asyncio.iscoroutine(result):
                await result

        self.spawn(run())

    def _put(self, watch: Watch, event: AnyEvent) -> None:
        watch.started = watch.started or isinstance(event, Started)
        watch.final_seen = isinstance(event, FINAL)
        self._pump.put(event)

    async def _deliver(self, events: Sequence[AnyEvent]) -> None:
        await self._handler(events)
        for event in events:
            if isinstance(event, FINAL):  # recorded: the task's result is of no more use
                self._forget(event.job_id)

    async def _await_end(self, job_id: str, future: Future) -> None:
        """Wait for the task to end without fetching its result (a task on this loop is cheaper
        than ``add_done_callback``, which hops through a thread per job)."""
        try:
            await future.exception()
        except FutureCancelledError:
            pass
        self._on_done(job_id, future)

    def _on_done(self, job_id: str, future: Future) -> None:
        watch = self._jobs.get(job_id)
        if watch is None or watch.future is not future or watch.final_seen:
            return
        if future.status == "finished":
            self.spawn(self._collect(job_id, watch))
        elif future.status == "error":
            self.spawn(self._collect_error(job_id, watch))
        elif watch.cancel_requested:  # a started job may still report how it ended
            self.later(self.linger if watch.started else 0.0, self._forget, job_id)
        else:
            self._put(watch, Failed(job_id=job_id, at=utcnow(), error=DROPPED.format(future.status)))

    async def _collect(self, job_id: str, watch: Watch) -> None:
        """The outcome from the task's return value, its event batch having been missed."""
        try:
            event = decode_event(await watch.future.result())
            event = event if event.job_id == job_id else replace(event, job_id=job_id)
        except (FutureCancelledError, OSError) as e:
            event = Failed(job_id=job_id, at=utcnow(), error=DROPPED.format(type(e).__name__))
        if not watch.final_seen and self._jobs.get(job_id) is watch:
            self._put(watch, event)

    async def _collect_error(self, job_id: str, watch: Watch) -> None:
        error = await watch.future.exception()
        if self._jobs.get(job_id) is not watch or watch.final_seen:
            return
        if watch.may_retry(error):
            watch.started = False
            await self.calls.client.retry([watch.future])
            self.watch(job_id, watch)
            line = f"the worker running this job died; running it again ({watch.deaths} of {watch.retries} retries)"
            self._put(watch, Logged(job_id=job_id, at=utcnow(), line=line, level="WARNING"))
        else:
            self._put(watch, Failed(job_id=job_id, at=utcnow(), error=failure_of(error, watch)))

    def _forget(self, job_id: str) -> None:
        """Stop watching; let the scheduler drop the task and its dataset."""
        watch = self._jobs.pop(job_id, None)
        if watch is None or not self.calls.running:
            return
        watch.future.release()
        if self.durable:
            self.calls.unpublish(job_id)
