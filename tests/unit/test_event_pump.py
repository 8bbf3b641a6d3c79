"""The event pump: what arrives while the handler records a batch goes together in the next
one, coalesced and in order, bounded in size; a failing batch does not stop it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from dpr.adapters.event_pump import EventPump
from dpr.domain.events import AnyEvent, Logged, Progressed, Started, Succeeded
from tests.waiting import async_wait_for

AT = datetime(2030, 1, 1, tzinfo=UTC)


class SlowHandler:
    """Records each call's events; the first call waits until released."""

    def __init__(self, fail_first: bool = False) -> None:
        self.calls: list[list[AnyEvent]] = []
        self.release = asyncio.Event()
        self.fail_first = fail_first

    async def __call__(self, events: Sequence[AnyEvent]) -> None:
        self.calls.append(list(events))
        if len(self.calls) == 1:
            await self.release.wait()
            if self.fail_first:
                raise RuntimeError("the store broke")


@pytest.mark.virtual_time
async def test_events_arriving_during_a_write_go_together_in_the_next_one_coalesced_in_order() -> None:
    handler = SlowHandler()
    pump = EventPump(handler)
    pump.put(Started(job_id="a", at=AT))
    await asyncio.sleep(0.01)  # the first event is handed over alone, at once
    later = [
        Started(job_id="b", at=AT),
        Progressed(job_id="b", at=AT, progress=10),
        Progressed(job_id="b", at=AT, progress=30, message="half"),
        Logged(job_id="a", at=AT, line="hello"),
        Succeeded(job_id="a", at=AT, outputs={}),
    ]
    for event in later:
        pump.put(event)
    handler.release.set()
    await pump.drained()
    assert handler.calls[0] == [Started(job_id="a", at=AT)]
    assert handler.calls[1] == [later[0], Progressed(job_id="b", at=AT, progress=30, message="half"), *later[3:]]
    await pump.close()


@pytest.mark.virtual_time
async def test_a_backlog_is_handed_over_in_bounded_batches() -> None:
    handler = SlowHandler()
    pump = EventPump(handler, max_batch=4)
    pump.put(Started(job_id="first", at=AT))
    await asyncio.sleep(0.01)
    for i in range(10):
        pump.put(Started(job_id=f"job-{i}", at=AT))
    handler.release.set()
    await pump.drained()
    assert [len(call) for call in handler.calls] == [1, 4, 4, 2]
    assert [e.job_id for call in handler.calls[1:] for e in call] == [f"job-{i}" for i in range(10)]
    await pump.close()


@pytest.mark.virtual_time
async def test_a_failing_batch_is_logged_and_the_next_ones_still_arrive(caplog) -> None:
    handler = SlowHandler(fail_first=True)
    pump = EventPump(handler)
    pump.put(Started(job_id="a", at=AT))
    await asyncio.sleep(0.01)
    pump.put(Started(job_id="b", at=AT))
    handler.release.set()
    await pump.drained()
    assert [call[0].job_id for call in handler.calls] == ["a", "b"]
    assert "could not record 1 executor events" in caplog.text
    await pump.close()


async def test_events_from_other_threads_all_arrive_in_each_threads_order() -> None:
    seen: list[AnyEvent] = []

    async def handler(events: Sequence[AnyEvent]) -> None:
        seen.extend(events)

    pump = EventPump(handler)

    def emit(name: str) -> None:
        for i in range(200):
            pump.put_threadsafe(Logged(job_id=name, at=AT, line=str(i)))

    threads = [threading.Thread(target=emit, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        await asyncio.to_thread(thread.join)
    # The last wake-ups may still be on their way to the loop: wait for every event.
    await async_wait_for(lambda: len(seen) == 4 * 200, 30, "all 800 events")
    for n in range(4):
        assert [e.line for e in seen if e.job_id == f"t{n}"] == [str(i) for i in range(200)]
    await pump.close()
