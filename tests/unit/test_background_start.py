"""An executor whose cluster starts in the background: orders wait for it, in order, and
``starting()`` says why; a start that fails is tried again."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

import pytest

from dpr.adapters import background_start
from dpr.adapters.background_start import BackgroundStart
from dpr.adapters.clock import ManualClock
from dpr.adapters.fake_executor import FakeExecutor
from dpr.domain.events import AnyEvent, Started, Succeeded
from dpr.domain.run import ProcessorRef, WorkOrder
from dpr.ports.executor import Executor
from tests.builders import make_job
from tests.waiting import async_wait_for

pytestmark = pytest.mark.unit

ECHO = ProcessorRef(target="dpr.adapters.processors.echo:EchoProcessor")


def inline_executor() -> Executor:
    """What the background start builds: the executor that runs jobs on the loop, in manual time."""
    return FakeExecutor(max_workers=1, clock=ManualClock())


def order(job_id: str) -> WorkOrder:
    return WorkOrder(job_id=job_id, process_id="echo", processor=ECHO, inputs={"echo": job_id})


class Events:
    def __init__(self) -> None:
        self.seen: list[AnyEvent] = []

    async def __call__(self, events: Sequence[AnyEvent]) -> None:
        self.seen.extend(events)

    def of(self, kind: type) -> list[str]:
        return [e.job_id for e in self.seen if isinstance(e, kind)]


async def test_orders_submitted_while_the_cluster_starts_wait_and_run_in_order_once_it_is_up():
    up = threading.Event()

    def make() -> Executor:
        up.wait(30)  # the cluster's start, held until the test lets it go on
        return inline_executor()

    executor = BackgroundStart(make, "the test cluster", reference=lambda o: f"fake:{o.job_id}")
    events = Events()
    await executor.start(events)
    try:
        assert executor.starting() == "the test cluster is starting"
        assert [await executor.submit(order(j)) for j in ("a", "b", "c")] == ["fake:a", "fake:b", "fake:c"]
        await executor.cancel(make_job(job_id="b"))  # dismissed while waiting: never handed over
        assert events.seen == [], "nothing runs before the cluster is up"
        up.set()
        await asyncio.wait_for(executor.started(), 30)
        assert executor.starting() is None
        await async_wait_for(lambda: len(events.of(Succeeded)) == 2, 30, "the waiting jobs to run")
        assert events.of(Started) == ["a", "c"] and events.of(Succeeded) == ["a", "c"]
        assert await executor.submit(order("d")) == "fake:d"
        await async_wait_for(lambda: "d" in events.of(Succeeded), 30, "a job submitted once up")
    finally:
        up.set()
        await executor.close()


async def test_a_start_that_fails_says_why_and_is_tried_again(monkeypatch):
    monkeypatch.setattr(background_start, "RETRY_FIRST", 0.01)  # then 0.02: the back-off, kept short
    attempts: list[int] = []

    def make() -> Executor:
        attempts.append(1)
        if len(attempts) < 3:
            raise RuntimeError("no room for workers")
        return inline_executor()

    executor = BackgroundStart(make, "the test cluster", reference=lambda o: f"fake:{o.job_id}")
    events = Events()
    await executor.start(events)
    try:
        await executor.submit(order("a"))
        await asyncio.wait_for(executor.started(), 30)
        assert len(attempts) == 3
        await async_wait_for(lambda: events.of(Succeeded) == ["a"], 30, "the job to run after the retries")
    finally:
        await executor.close()


async def test_closing_while_it_starts_waits_for_the_start_and_hands_the_waiting_orders_to_no_one():
    gate = threading.Event()

    def make() -> Executor:
        gate.wait(30)
        return inline_executor()

    executor = BackgroundStart(make, reference=lambda o: f"fake:{o.job_id}")
    events = Events()
    await executor.start(events)
    await executor.submit(order("a"))
    closing = asyncio.ensure_future(executor.close())
    await asyncio.sleep(0)  # close() has begun: it waits for the start under way
    gate.set()
    await asyncio.wait_for(closing, 30)
    assert events.seen == [], "the order stays accepted in the store, for the next start to queue again"
