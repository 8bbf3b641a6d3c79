"""Following the jobs this service instance reports on, from their task to their outcome.

Events arrive as batches on the scheduler's topic; each watched task is also awaited, so an
outcome whose batch was missed still comes from the task's return value or error. A worker
dying under a job is retried here while the job's ``retries`` allow. The decisions are
``tracker_machine.TrackerMachine``'s; ``JobTracker`` does the Dask I/O they call for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Iterable, Sequence
from typing import Any

from distributed import Future
from distributed.client import FutureCancelledError
from distributed.scheduler import KilledWorker

from dpr.adapters.dask.scheduler_calls import SchedulerCalls
from dpr.adapters.dask.tracker_machine import TrackerMachine
from dpr.adapters.dask.tracker_messages import (
    AwaitEnd,
    CancelRequested,
    Deliver,
    ErrorFetched,
    FetchError,
    FetchResult,
    Input,
    Instruction,
    LingerOver,
    Reattach,
    Reattached,
    Reconnected,
    Recorded,
    Release,
    ReleaseLater,
    Replay,
    Replayed,
    Resubmit,
    Resubmitted,
    ResultFetched,
    SchedulerStates,
    Stop,
    TaskEnded,
    Unwatched,
    Watched,
    WorkerEvents,
)
from dpr.adapters.dask.wire import TOPIC, decode_event, decode_events
from dpr.adapters.event_pump import EventPump
from dpr.adapters.runner import utcnow
from dpr.domain.errors import Unavailable
from dpr.domain.events import AnyEvent
from dpr.ports.executor import EventHandler

log = logging.getLogger(__name__)

REATTACH_WAIT = 60.0  # seconds a watch waits for the client to reconnect before its job is failed


class JobTracker:
    """The watched jobs of one executor, and the single queue their events reach the service by."""

    def __init__(
        self, calls: SchedulerCalls, handler: EventHandler, *, durable: bool, linger: float, check_every: float = 10.0
    ) -> None:
        self.calls = calls
        self.check_every = check_every
        self.machine = TrackerMachine(durable=durable, linger=linger)
        self._durable = durable
        self._handler = handler
        self._futures: dict[str, Future] = {}
        self._tasks: set[asyncio.Task[Any]] = set()
        self._pump = EventPump(self._deliver)
        self._replays: set[str] = set()  # jobs whose events are to be looked up in the event log
        self._replaying = False

    def start(self) -> None:
        """Subscribe to the workers' topic, and look every ``check_every`` seconds whether the
        client reconnected or the scheduler forgot a watched job's task."""
        self.calls.client.subscribe_topic(TOPIC, self.on_topic)
        self.spawn(self._health_checks())

    def watching(self, job_id: str) -> bool:
        return self.machine.watching(job_id)

    def future_of(self, job_id: str) -> Future | None:
        return self._futures.get(job_id) if self.machine.watching(job_id) else None

    def watch(self, job_id: str, future: Future, retries: int, *, started: bool = False, replay: bool = False) -> None:
        """Follow the job's task (submitted, or adopted; ``started`` if it runs already;
        ``replay``: deliver first the events it sent that the scheduler's event log still has)."""
        self._futures[job_id] = future
        self._handle(Watched(job_id=job_id, retries=retries, started=started, replay=replay))

    def cancel_requested(self, job_id: str) -> None:
        self._handle(CancelRequested(job_id=job_id))

    def drop(self, job_id: str) -> None:
        """Stop watching without a word to the scheduler (the task is being cancelled)."""
        self._futures.pop(job_id, None)
        self._handle(Unwatched(job_id=job_id))

    def on_topic(self, message: tuple[float, Any]) -> None:
        """A batch from a worker; only the jobs this instance watches count."""
        try:
            batch = decode_events(message[1])
        except Exception:
            log.warning("ignoring an undecodable message on topic %s", TOPIC)
            return
        self._handle(WorkerEvents(events=batch))

    async def drained(self) -> None:
        await self._pump.drained()

    async def close(self) -> None:
        """Deliver what was received, then stop watching (the tasks go on on a durable cluster).

        On a durable cluster nothing is read from the tasks any more once closing began: the
        topic is no longer followed, so an outcome read from a task's result would be recorded
        without the log lines sent meanwhile. The instance that takes the jobs over replays
        them, in order, from the scheduler's event log."""
        if self._durable:
            await self._cancel_tasks()
        await self._pump.drained()
        await self._pump.close()
        await self._cancel_tasks()
        self.machine.close()
        self._futures.clear()

    async def _cancel_tasks(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        task.add_done_callback(_log_failure)

    def later(self, delay: float, fn: Callable[..., Any], *args: Any) -> None:
        async def run() -> None:
            await asyncio.sleep(delay)
            result = fn(*args)
            if asyncio.iscoroutine(result):
                await result

        self.spawn(run())

    def _handle(self, what: Input) -> None:
        self._perform(self.machine.handle(what))

    def _perform(self, instructions: Iterable[Instruction]) -> None:
        for step in instructions:
            match step:
                case Deliver(event=event):
                    self._pump.put(event)
                case Release(job_id=job_id, unpublish=unpublish):
                    self._release(job_id, unpublish)
                case ReleaseLater(job_id=job_id, delay=delay):
                    self.later(delay, self._handle, LingerOver(job_id=job_id))
                case Replay(job_id=job_id):
                    self._replays.add(job_id)
                    if not self._replaying:
                        self._replaying = True
                        self.spawn(self._replay())
                case Stop(job_id=job_id):
                    self.spawn(self._stop(job_id))
                case Reattach(job_id=job_id, generation=generation):
                    self.spawn(self._reattach(job_id, generation))
                case AwaitEnd() | FetchResult() | FetchError() | Resubmit():
                    future = self._futures.get(step.job_id)
                    if future is not None:
                        self.spawn(self._on_future(step, future))

    async def _on_future(self, step: AwaitEnd | FetchResult | FetchError | Resubmit, future: Future) -> None:
        """Wait on the task as ``step`` says, and hand the machine what came of it."""
        job_id, generation = step.job_id, step.generation
        match step:
            case AwaitEnd():
                await _ended(future)
                what: Input = TaskEnded(job_id=job_id, generation=generation, status=str(future.status), at=utcnow())
            case FetchResult():
                try:
                    event = decode_event(await future.result())
                    what = ResultFetched(job_id=job_id, generation=generation, event=event, at=utcnow())
                except (FutureCancelledError, OSError) as e:
                    what = ResultFetched(job_id=job_id, generation=generation, error=type(e).__name__, at=utcnow())
            case FetchError():
                error = await future.exception()
                died = isinstance(error, KilledWorker)
                text = None if error is None or died else f"{type(error).__name__}: {error}"
                what = ErrorFetched(job_id=job_id, generation=generation, worker_died=died, error=text, at=utcnow())
            case Resubmit():
                await self.calls.client.retry([future])
                what = Resubmitted(job_id=job_id, generation=generation, at=utcnow())
        self._handle(what)

    async def _reattach(self, job_id: str, generation: int) -> None:
        """Once the client is connected again, the job's published task if the scheduler still has it."""
        client, future = self.calls.client, None
        waited = 0.0
        while client.status == "connecting" and waited < REATTACH_WAIT:
            await asyncio.sleep(0.1)
            waited += 0.1
        try:
            published = await self.calls.published(job_id) if self.calls.running else None
            if published is not None and await self.calls.state(job_id) is not None:
                future = published[0]
        except (Unavailable, OSError) as e:
            log.warning("could not re-attach job %s: %s", job_id, e)
        if future is not None:
            self._futures[job_id] = future
        self._handle(Reattached(job_id=job_id, generation=generation, found=future is not None, at=utcnow()))

    async def _health_checks(self) -> None:
        """A client that lost the scheduler reconnects by itself, but a new scheduler has no
        subscription of it, and a scheduler that handled the end of the old connection late
        forgot the client's tasks without a word: no job may wait for ever on either."""
        client = self.calls.client
        comm = client.scheduler_comm
        while True:
            await asyncio.sleep(self.check_every)
            if not self.calls.running:
                continue
            if client.scheduler_comm is not comm:
                comm = client.scheduler_comm
                log.warning("the client reconnected to the scheduler: subscribing again, replaying the event log")
                client.subscribe_topic(TOPIC, self.on_topic)
                self._handle(Reconnected())
            pending = self.machine.pending()
            try:
                states = await self.calls.states(pending) if pending else {}
            except Unavailable as e:
                log.warning("health check: could not ask the scheduler about %d job(s): %s", len(pending), e)
                continue
            self._handle(SchedulerStates(states=states, at=utcnow()))

    async def _replay(self) -> None:
        """One read of the scheduler's event log serves every job adopted meanwhile."""
        try:
            while self._replays:
                wanted, self._replays = self._replays, set()
                found: dict[str, list[AnyEvent]] = {job_id: [] for job_id in wanted}
                for event in await self._logged_events():
                    if event.job_id in found:
                        found[event.job_id].append(event)
                for job_id, events in found.items():
                    self._handle(Replayed(job_id=job_id, events=events))
        finally:
            self._replaying = False

    async def _logged_events(self) -> list[AnyEvent]:
        """The events the scheduler still keeps on the topic, oldest first ([] when it cannot
        tell: the numbering then shows what is missing)."""
        try:
            logged = await self.calls.client.get_events(TOPIC)
        except OSError as e:
            log.warning("could not read the scheduler's event log: %s", e)
            return []
        events: list[AnyEvent] = []
        for _, data in logged:
            try:
                events += decode_events(data)
            except Exception:
                continue  # not a batch of ours
        return events

    async def _stop(self, job_id: str) -> None:
        try:
            await self.calls.stop(job_id, self._futures.get(job_id))
        except OSError as e:
            log.warning("could not stop the task of job %s: %s", job_id, e)

    async def _deliver(self, events: Sequence[AnyEvent]) -> None:
        await self._handler(events)
        self._handle(Recorded(events=list(events)))  # an outcome recorded: the task is of no more use

    def _release(self, job_id: str, unpublish: bool) -> None:
        """Let the scheduler drop the task and its dataset."""
        future = self._futures.pop(job_id, None)
        if future is None or not self.calls.running:
            return
        future.release()
        if unpublish:
            self.calls.unpublish(job_id)


def _log_failure(task: asyncio.Task[Any]) -> None:
    """A step that died says so, rather than leaving its job waiting in silence."""
    if not task.cancelled() and (error := task.exception()) is not None:
        log.error("a tracking step failed: %s: %s", type(error).__name__, error, exc_info=error)


async def _ended(future: Future) -> None:
    """Wait for the task to end without fetching its result (a task on this loop is cheaper
    than ``add_done_callback``, which hops through a thread per job)."""
    try:
        await future.exception()
    except FutureCancelledError:
        pass
