"""The batching helper: group commit on the loop, shared reads, timed batches from threads,
coalescing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import pytest

from dpr.adapters.batching import BatchedReads, Gathered, GroupCommit, SharedReads, coalesce
from dpr.adapters.dask.wire import WorkerTuning, decode_events
from dpr.adapters.dask.worker_events import Numbering, emitter, event_batches
from dpr.domain.events import AnyEvent, Logged, Progressed, Started, Succeeded

AT = datetime(2030, 1, 1, tzinfo=UTC)


class HeldFlush:
    """Records each batch; the first one waits until released. Items named "bad" fail alone,
    and a batch holding "broken" raises."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = asyncio.Event()

    async def __call__(self, items: list[str]) -> Sequence[BaseException | None]:
        self.batches.append(items)
        if len(self.batches) == 1:
            await self.release.wait()
        if "broken" in items:
            raise OSError("the connection broke")
        return [ValueError(item) if item == "bad" else None for item in items]


async def started(commit: GroupCommit[str], flush: HeldFlush, first: str = "first") -> asyncio.Task[None]:
    """Submit ``first`` and wait until its flush is in flight."""
    task = asyncio.create_task(commit.submit(first))
    while not flush.batches:
        await asyncio.sleep(0)
    return task


async def test_items_submitted_during_a_flush_go_together_in_the_next_each_with_its_own_outcome() -> None:
    flush = HeldFlush()
    commit = GroupCommit(flush)
    first = await started(commit, flush)
    later = [asyncio.create_task(commit.submit(item)) for item in ("a", "bad", "b")]
    await asyncio.sleep(0)
    flush.release.set()
    outcomes = await asyncio.gather(first, *later, return_exceptions=True)
    assert flush.batches == [["first"], ["a", "bad", "b"]]
    assert outcomes[:2] == [None, None] and outcomes[3] is None
    assert isinstance(outcomes[2], ValueError)


async def test_a_backlog_is_flushed_in_bounded_batches_in_order() -> None:
    flush = HeldFlush()
    commit = GroupCommit(flush, max_batch=2)
    first = await started(commit, flush)
    for n in range(5):
        commit.put(str(n))
    flush.release.set()
    await first
    await commit.drained()
    assert flush.batches == [["first"], ["0", "1"], ["2", "3"], ["4"]]


async def test_a_flush_that_raises_fails_each_waiting_item_and_logs_those_nobody_waits_for(caplog) -> None:
    flush = HeldFlush()
    commit = GroupCommit(flush, name="publish")
    first = await started(commit, flush)
    waiting = asyncio.create_task(commit.submit("broken"))
    commit.put("unheard")
    await asyncio.sleep(0)
    flush.release.set()
    await first
    with pytest.raises(OSError, match="the connection broke"):
        await waiting
    assert "publish of 2 item(s): 1 failed: the connection broke" in caplog.text


async def test_a_caller_that_stops_waiting_leaves_its_item_in_the_batch() -> None:
    flush = HeldFlush()
    commit = GroupCommit(flush)
    first = await started(commit, flush)
    impatient = asyncio.create_task(commit.submit("impatient"))
    patient = asyncio.create_task(commit.submit("patient"))
    await asyncio.sleep(0)
    impatient.cancel()
    flush.release.set()
    await asyncio.gather(first, patient)
    assert flush.batches == [["first"], ["impatient", "patient"]]


async def test_closing_cancels_the_callers_still_waiting() -> None:
    flush = HeldFlush()
    commit = GroupCommit(flush)
    first = await started(commit, flush)
    queued = asyncio.create_task(commit.submit("queued"))
    await asyncio.sleep(0)
    await commit.close()
    for task in (first, queued):
        with pytest.raises(asyncio.CancelledError):
            await task


async def test_items_put_from_other_threads_arrive_in_order() -> None:
    seen: list[int] = []

    async def flush(items: list[int]) -> None:
        seen.extend(items)

    commit = GroupCommit(flush, loop=asyncio.get_running_loop())

    def produce() -> None:
        for n in range(100):
            commit.put_threadsafe(n)

    await asyncio.to_thread(produce)
    async with asyncio.timeout(10):
        while len(seen) < 100:
            await asyncio.sleep(0.01)
    assert seen == list(range(100))


class Timers:
    """A ``later`` that keeps the callables; the test fires them."""

    def __init__(self) -> None:
        self.armed: list[tuple[float, Callable[[], None]]] = []

    def __call__(self, delay: float, fn: Callable[[], None]) -> None:
        self.armed.append((delay, fn))

    def fire(self) -> None:
        armed, self.armed = self.armed, []
        for _, fn in armed:
            fn()


class Held:
    """Reads that each wait until released (``release(n)``: the n-th), and fail when ``fail``."""

    def __init__(self) -> None:
        self.gates: list[asyncio.Event] = []
        self.fail = False

    async def hold(self) -> None:
        gate = asyncio.Event()
        self.gates.append(gate)
        await gate.wait()
        if self.fail:
            raise OSError("the connection broke")

    async def release(self, n: int) -> None:
        while len(self.gates) < n:
            await asyncio.sleep(0)
        self.gates[n - 1].set()


class HeldCount(Held):
    """A count whose reads each wait until released; ``value`` is what the store holds now,
    read when a read starts (as a query sees what was committed before it began)."""

    def __init__(self) -> None:
        super().__init__()
        self.value = 0
        self.reads: list[str | None] = []

    async def __call__(self, key: str | None) -> int:
        seen = self.value
        self.reads.append(key)
        await self.hold()
        return seen


async def test_calls_made_during_a_read_share_the_next_one_which_sees_what_was_written_before_them() -> None:
    count = HeldCount()
    shared = SharedReads(count)
    first = asyncio.create_task(shared(None))
    while not count.reads:
        await asyncio.sleep(0)
    count.value = 5  # written while the first read is in flight: it cannot see it
    later = [asyncio.create_task(shared(None)) for _ in range(3)]
    await count.release(1)
    await count.release(2)
    assert await first == 0
    assert await asyncio.gather(*later) == [5, 5, 5]
    assert count.reads == [None, None]


async def test_reads_of_different_keys_do_not_wait_for_each_other() -> None:
    count = HeldCount()
    shared = SharedReads(count)
    calls = [asyncio.create_task(shared(key)) for key in ("echo", None, "echo")]
    await count.release(1)
    await count.release(2)
    assert await asyncio.gather(*calls) == [0, 0, 0]
    assert len(count.reads) == 2 and set(count.reads) == {"echo", None}


async def test_a_failed_read_fails_every_call_that_waited_for_it_and_the_next_call_reads_again() -> None:
    count = HeldCount()
    shared = SharedReads(count)
    count.fail = True
    calls = [asyncio.create_task(shared(None)) for _ in range(2)]
    await count.release(1)
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(o, OSError) for o in outcomes)
    count.fail = False
    again = asyncio.create_task(shared(None))
    await count.release(2)
    assert await again == 0


async def test_a_caller_that_stops_waiting_does_not_cancel_the_read_of_the_others() -> None:
    count = HeldCount()
    shared = SharedReads(count)
    quitter, stayer = asyncio.create_task(shared(None)), asyncio.create_task(shared(None))
    await asyncio.sleep(0)
    quitter.cancel()
    await count.release(1)
    assert await stayer == 0
    assert quitter.cancelled()


def test_items_wait_for_one_timer_then_go_in_one_batch_in_order() -> None:
    sent: list[list[str]] = []
    timers = Timers()
    gathered = Gathered(sent.append, timers, interval=0.2)
    for item in ("a", "b", "c"):
        gathered.add(item)
    assert sent == [] and [delay for delay, _ in timers.armed] == [0.2]
    timers.fire()
    assert sent == [["a", "b", "c"]]
    gathered.add("d")
    assert len(timers.armed) == 1, "the next item arms a new timer"


def test_an_urgent_item_sends_everything_pending_at_once_and_the_timer_finds_nothing() -> None:
    sent: list[list[str]] = []
    timers = Timers()
    gathered = Gathered(sent.append, timers, interval=0.2)
    gathered.add("line")
    gathered.add("end", urgent=True)
    assert sent == [["line", "end"]]
    timers.fire()
    assert sent == [["line", "end"]]


def test_runs_of_one_jobs_progress_merge_into_the_last_keeping_the_highest_and_the_latest_message() -> None:
    events: list[AnyEvent] = [
        Started(job_id="a", at=AT),
        Progressed(job_id="a", at=AT, progress=50, message="half"),
        Progressed(job_id="a", at=AT, progress=40),
        Progressed(job_id="b", at=AT, progress=10),
        Logged(job_id="a", at=AT, line="x"),
        Progressed(job_id="a", at=AT, progress=60),
    ]
    assert coalesce(events) == [
        events[0],
        Progressed(job_id="a", at=AT, progress=50, message="half"),
        events[3],
        events[4],
        events[5],
    ]


def test_a_workers_batches_number_its_events_in_the_order_sent_after_coalescing() -> None:
    sent: list[bytes] = []
    batches = event_batches(sent.append, lambda delay, fn: None, WorkerTuning(), Numbering("run-1"))
    emit = emitter(batches)
    emit(Started(job_id="a", at=AT))
    emit(Progressed(job_id="a", at=AT, progress=10))
    emit(Progressed(job_id="a", at=AT, progress=20))
    emit(Logged(job_id="a", at=AT, line="x"))
    batches.flush()
    events = [e for data in sent for e in decode_events(data)]
    assert [(type(e).__name__, e.run, e.seq) for e in events] == [
        ("Started", "run-1", 0),
        ("Progressed", "run-1", 1),
        ("Logged", "run-1", 2),
    ]


def test_a_short_jobs_events_leave_the_worker_in_one_batch_sent_by_its_outcome() -> None:
    sent: list[bytes] = []
    timers: list[float] = []
    batches = event_batches(sent.append, lambda delay, fn: timers.append(delay), WorkerTuning(), Numbering("run-1"))
    emit = emitter(batches)
    emit(Started(job_id="a", at=AT))
    emit(Logged(job_id="a", at=AT, line="x"))
    assert sent == [] and timers == [WorkerTuning().flush_interval]  # Started waits, at most one interval
    emit(Succeeded(job_id="a", at=AT, outputs={}))
    assert [[type(e).__name__ for e in decode_events(data)] for data in sent] == [["Started", "Logged", "Succeeded"]]


class HeldStore(Held):
    """``read_many`` over a dict that holds every read until released, recording the batches."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: dict[str, int] = {}
        self.batches: list[list[str]] = []

    async def __call__(self, keys: list[str]) -> dict[str, int]:
        self.batches.append(list(keys))
        seen = {key: self.rows[key] for key in keys if key in self.rows}
        await self.hold()
        return seen


async def test_keys_asked_during_a_read_go_together_in_the_next_one_which_sees_what_was_written_before() -> None:
    store = HeldStore()
    reads = BatchedReads(store)
    store.rows["a"] = 1
    first = asyncio.create_task(reads("a"))
    while not store.batches:
        await asyncio.sleep(0)
    store.rows["a"], store.rows["b"] = 2, 3  # written while the first read is in flight
    later = [asyncio.create_task(reads(key)) for key in ("a", "b", "a", "missing")]
    await store.release(1)
    await store.release(2)
    assert await first == 1
    assert await asyncio.gather(*later) == [2, 3, 2, None]
    assert store.batches == [["a"], ["a", "b", "missing"]], "one batch, each key once"


async def test_a_batch_holds_at_most_max_batch_keys_in_the_order_asked() -> None:
    store = HeldStore()
    store.rows = {key: n for n, key in enumerate("abcde")}
    reads = BatchedReads(store, max_batch=2)
    calls = [asyncio.create_task(reads(key)) for key in "abcde"]
    for n in range(1, 4):
        await store.release(n)
    assert await asyncio.gather(*calls) == [0, 1, 2, 3, 4]
    assert store.batches == [["a", "b"], ["c", "d"], ["e"]]


async def test_a_failed_batch_fails_its_callers_only_and_the_next_batch_reads_again() -> None:
    store = HeldStore()
    store.rows = {"a": 1, "b": 2}
    reads = BatchedReads(store)
    store.fail = True
    first = asyncio.create_task(reads("a"))
    while not store.batches:
        await asyncio.sleep(0)
    second = asyncio.create_task(reads("b"))
    await asyncio.sleep(0)
    await store.release(1)
    with pytest.raises(OSError):
        await first
    store.fail = False
    await store.release(2)
    assert await second == 2


async def test_a_reader_that_stops_waiting_does_not_cancel_the_read_of_the_others() -> None:
    store = HeldStore()
    store.rows = {"a": 1}
    reads = BatchedReads(store)
    quitter, stayer = asyncio.create_task(reads("a")), asyncio.create_task(reads("a"))
    await asyncio.sleep(0)
    quitter.cancel()
    await store.release(1)
    assert await stayer == 1
    assert quitter.cancelled()
