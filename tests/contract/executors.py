"""Executor adapters for the executor contract suite, and a recorder of the events they send.

The Dask executor connects to one in-process cluster per test module (one worker, one thread,
so a second job waits in Dask's queue like a second job waits for the fake executor's thread).
The inline fake executor keeps a manual clock: while the recorder waits for an event, it moves
that clock on a tenth of a second at a time, as real time would pass for the others.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from distributed import LocalCluster

from dpr.adapters.background_start import BackgroundStart
from dpr.adapters.clock import ManualClock
from dpr.adapters.dask import DaskExecutor, SchedulerSource, WorkerTuning
from dpr.adapters.dask.wire import task_key
from dpr.adapters.fake_executor import FakeExecutor
from dpr.domain.events import AnyEvent, Failed, Started, Succeeded
from dpr.domain.run import ProcessorRef, WorkOrder
from dpr.ports.executor import Executor
from tests.waiting import scaled

ECHO = ProcessorRef(target="dpr.adapters.processors.echo:EchoProcessor")
MOCKUP = ProcessorRef(target="dpr.adapters.processors.mockup:MockupProcessor")
SECRET_ECHO = ProcessorRef(target="tests.processors:SecretEchoProcessor", env=["TOKEN"])
TUNING = WorkerTuning(flush_interval=0.05, cancel_poll=0.05, cancel_grace=2.0)
TICK = 0.1  # seconds of the inline executor's clock per look at the events
KINDS = ["fake", "inline", "dask", "background"]
_ids = itertools.count(1)


def order(processor: ProcessorRef = ECHO, **inputs: Any) -> WorkOrder:
    """A work order with a fresh job id."""
    return WorkOrder(job_id=f"contract-{next(_ids)}", process_id="test", processor=processor, inputs=inputs)


@asynccontextmanager
async def in_process_cluster() -> AsyncIterator[LocalCluster]:
    """A scheduler and one single-threaded worker on this loop, reachable over TCP."""
    async with LocalCluster(
        n_workers=1,
        threads_per_worker=1,
        processes=False,
        host="127.0.0.1",
        protocol="tcp://",
        scheduler_port=0,
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        asynchronous=True,
    ) as cluster:
        yield cluster


def build_executor(kind: str, scheduler_address: str) -> Executor:
    if kind == "fake":
        return FakeExecutor(max_workers=1)
    if kind == "inline":
        return FakeExecutor(max_workers=1, clock=ManualClock())
    if kind == "background":  # the Dask executor on a cluster that starts after the service
        return BackgroundStart(
            lambda: DaskExecutor(SchedulerSource(scheduler_address), tuning=TUNING),
            reference=lambda order: f"dask:{task_key(order.job_id)}",
        )
    return DaskExecutor(SchedulerSource(scheduler_address), tuning=TUNING)


class Recorder:
    """The handler given to ``start``: keeps every event and lets a test wait for one."""

    def __init__(self, executor: Executor | None = None) -> None:
        self.events: list[AnyEvent] = []
        self._changed = asyncio.Condition()
        # The inline executor's time passes only when moved: waiting moves it.
        self._tick = executor.advance if isinstance(executor, FakeExecutor) and executor.clock else None

    async def __call__(self, events: Sequence[AnyEvent]) -> None:
        async with self._changed:
            self.events.extend(events)
            self._changed.notify_all()

    def of(self, job_id: str) -> list[AnyEvent]:
        return [e for e in self.events if e.job_id == job_id]

    async def wait_for(self, job_id: str, kind: type | tuple[type, ...], timeout: float = 60) -> AnyEvent:
        """The first event of ``kind`` for the job, waiting up to ``timeout`` (scaled) seconds."""

        def first() -> AnyEvent | None:
            return next((e for e in self.of(job_id) if isinstance(e, kind)), None)

        async def seen() -> AnyEvent:
            while (event := first()) is None:
                if self._tick is not None:
                    await self._tick(TICK)
                    continue
                async with self._changed:
                    await self._changed.wait_for(lambda: first() is not None)
            return event

        return await asyncio.wait_for(seen(), scaled(timeout))

    async def outcome(self, job_id: str, timeout: float = 60) -> Succeeded | Failed:
        event = await self.wait_for(job_id, (Succeeded, Failed), timeout)
        assert isinstance(event, Succeeded | Failed)
        return event

    def started(self, job_id: str) -> bool:
        return any(isinstance(e, Started) for e in self.of(job_id))
