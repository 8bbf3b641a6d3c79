"""How many store writes the job service makes, and that skipping reads never loses a change."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import pytest

from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.domain.errors import Unavailable
from dpr.domain.events import AnyEvent, Failed, Logged, Progressed, Started, Succeeded
from dpr.domain.job import Job
from dpr.domain.mode import Preference
from dpr.domain.run import WorkOrder
from dpr.domain.status import JobStatus
from dpr.ports.executor import EventHandler, Executor
from dpr.ports.notifier import Notifier
from dpr.services.records import JobRecords
from dpr.services.waiters import POLL_SECONDS
from tests.builders import execute_body
from tests.unit.conftest import build_service

ASYNC = Preference(respond_async=True)
LATER = datetime(2100, 1, 1, tzinfo=UTC)


class HeldExecutor(Executor):
    """Runs nothing: the test plays the executor's events itself."""

    def __init__(self, knows_reference: bool = True) -> None:
        self.knows_reference = knows_reference
        self.handler: EventHandler | None = None

    async def start(self, handler: EventHandler) -> None:
        self.handler = handler

    def reference(self, order: WorkOrder) -> str | None:
        return f"held:{order.job_id}" if self.knows_reference else None

    async def submit(self, order: WorkOrder) -> str:
        return f"held:{order.job_id}"

    async def cancel(self, job: Job) -> None:
        pass

    async def adopt(self, job: Job) -> bool:
        return False

    async def close(self) -> None:
        pass


class CountingRepository(InMemoryJobRepository):
    """Counts the service's calls (the in-memory ``update`` reads through ``get`` itself)."""

    def __init__(self) -> None:
        super().__init__()
        self.adds = self.reads = self.updates = self.batches = 0
        self._updating = False

    async def add(self, job: Job) -> None:
        self.adds += 1
        await super().add(job)

    async def get(self, job_id: str) -> Job:
        self.reads += not self._updating
        return await super().get(job_id)

    async def update_many(self, changes):  # type: ignore[no-untyped-def]
        self.batches += 1
        return await super().update_many(changes)

    async def update(self, job: Job, *, expected_version: int) -> None:
        self.updates += 1
        self._updating = True
        try:
            await super().update(job, expected_version=expected_version)
        finally:
            self._updating = False


async def started_service(executor: HeldExecutor, repository: CountingRepository):  # type: ignore[no-untyped-def]
    service = build_service(repository=repository, executor=executor)
    await service.start()
    return service


async def test_a_submission_is_one_write_when_the_executor_names_its_reference_beforehand() -> None:
    repository = CountingRepository()
    service = await started_service(HeldExecutor(knows_reference=True), repository)
    run = await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)
    assert (repository.adds, repository.updates) == (1, 0)
    assert (await repository.get(run.job.job_id)).executor_ref == f"held:{run.job.job_id}"


async def test_without_a_reference_beforehand_it_is_stored_after_submitting() -> None:
    repository = CountingRepository()
    service = await started_service(HeldExecutor(knows_reference=False), repository)
    run = await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)
    assert (repository.adds, repository.updates) == (1, 1)
    assert (await repository.get(run.job.job_id)).executor_ref == f"held:{run.job.job_id}"


async def test_events_of_a_job_run_here_are_written_without_reading_it_first() -> None:
    repository = CountingRepository()
    service = await started_service(HeldExecutor(), repository)
    job_id = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job.job_id
    events: list[AnyEvent] = [
        Started(job_id=job_id, at=LATER),
        Succeeded(job_id=job_id, at=LATER, outputs={"echo": "x"}),
    ]
    reads = repository.reads
    for event in events:
        await service.records.record([event])
    assert repository.reads == reads and repository.updates == 2
    assert (await service.queries.status(job_id)).status is JobStatus.SUCCESSFUL


async def test_an_event_after_another_process_dismissed_the_job_leaves_it_dismissed() -> None:
    repository = CountingRepository()
    service = await started_service(HeldExecutor(), repository)
    accepted = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job
    # Another server process dismisses it behind this one's back: its remembered record is stale.
    await repository.update(accepted.dismiss(LATER), expected_version=accepted.version)
    await service.records.record([Started(job_id=accepted.job_id, at=LATER)])
    await service.records.record([Succeeded(job_id=accepted.job_id, at=LATER, outputs={"echo": "x"})])
    job = await service.queries.status(accepted.job_id)
    assert job.status is JobStatus.DISMISSED and job.results is None


class Calls(Notifier):
    """Keeps the callbacks the service would send."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, dict]] = []

    async def check(self, url: str) -> None:
        pass

    def notify(self, url: str, body: bytes) -> None:
        self.sent.append((url, json.loads(body)))


async def test_a_batch_of_events_of_many_jobs_is_one_write_for_all_of_them() -> None:
    repository = CountingRepository()
    service = await started_service(HeldExecutor(), repository)
    ids = [
        (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job.job_id
        for _ in range(5)
    ]
    batch: list[AnyEvent] = []
    for job_id in ids:
        batch += [
            Started(job_id=job_id, at=LATER),
            Logged(job_id=job_id, at=LATER, line=f"echo of {job_id}"),
            Progressed(job_id=job_id, at=LATER, progress=50),
            Succeeded(job_id=job_id, at=LATER, outputs={"echo": job_id}),
        ]
    reads = repository.reads
    await service.records.record(batch)
    assert (repository.batches, repository.updates, repository.reads - reads) == (1, 5, 0)
    for job_id in ids:
        job = await service.queries.status(job_id)
        assert (job.status, job.results, job.progress) == (JobStatus.SUCCESSFUL, {"echo": job_id}, 100)
        assert [r.line for r in (await service.queries.logs(job_id))[1]] == [f"echo of {job_id}"]


async def test_a_stale_record_in_a_batch_is_decided_on_the_stored_one_without_holding_up_the_others() -> None:
    repository = CountingRepository()
    service = await started_service(HeldExecutor(), repository)
    kept = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job
    dismissed = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job
    await repository.update(dismissed.dismiss(LATER), expected_version=dismissed.version)  # behind its back
    done = {"echo": "x"}
    started: list[AnyEvent] = [Started(job_id=j.job_id, at=LATER) for j in (kept, dismissed)]
    await service.records.record(
        started + [Succeeded(job_id=j.job_id, at=LATER, outputs=done) for j in (kept, dismissed)]
    )
    assert (await service.queries.status(kept.job_id)).status is JobStatus.SUCCESSFUL
    late = await service.queries.status(dismissed.job_id)
    assert late.status is JobStatus.DISMISSED and late.results is None


@pytest.mark.virtual_time  # the waiter's pause, and the bound on its waking, in virtual time
async def test_a_waiter_wakes_when_its_job_ends_in_a_batch() -> None:
    service = await started_service(HeldExecutor(), CountingRepository())
    job_id = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job.job_id
    waiting = asyncio.create_task(service.queries.wait(job_id, timeout=30))
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    ended = loop.time()
    await service.records.record([Started(job_id=job_id, at=LATER), Failed(job_id=job_id, at=LATER, error="boom")])
    job = await asyncio.wait_for(waiting, 5)
    assert loop.time() - ended < POLL_SECONDS, "woken at once, not by its next look at the store"
    assert (job.status, job.error) == (JobStatus.FAILED, "boom")


async def test_every_change_folded_into_one_write_still_calls_its_subscriber_back() -> None:
    calls = Calls()
    service = build_service(
        repository=CountingRepository(), executor=HeldExecutor(), notifier=calls, public_base="http://dpr.example"
    )
    await service.start()
    subscriber = {"inProgressUri": "http://cb.example/progress", "successUri": "http://cb.example/done"}
    job_id = (
        await service.submission.execute(
            "echo", execute_body({"inputs": {"echo": "x"}, "subscriber": subscriber, "response": "document"}), ASYNC
        )
    ).job.job_id
    await service.records.record(
        [
            Started(job_id=job_id, at=LATER),
            Progressed(job_id=job_id, at=LATER, progress=40),
            Succeeded(job_id=job_id, at=LATER, outputs={"echo": "x"}),
        ]
    )
    assert [(url, body.get("status"), body.get("progress")) for url, body in calls.sent] == [
        ("http://cb.example/progress", "running", 0),
        ("http://cb.example/progress", "running", 40),
        ("http://cb.example/done", None, None),
    ]
    assert calls.sent[-1][1] == {"echo": "x"}


class PoisonedRepository(CountingRepository):
    """Fails to store one job's record (as a driver would a value it cannot encode)."""

    def __init__(self, poisoned: set[str]) -> None:
        super().__init__()
        self.poisoned = poisoned

    async def update(self, job: Job, *, expected_version: int) -> None:
        if job.job_id in self.poisoned:
            raise ValueError(f"cannot encode job {job.job_id}")
        await super().update(job, expected_version=expected_version)


async def test_a_record_that_cannot_be_stored_costs_only_its_own_job(caplog) -> None:
    repository = PoisonedRepository(set())
    service = await started_service(HeldExecutor(), repository)
    ids = [
        (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job.job_id
        for _ in range(3)
    ]
    repository.poisoned.add(ids[1])
    await service.records.record([Succeeded(job_id=job_id, at=LATER, outputs={"echo": job_id}) for job_id in ids])
    statuses = [(await service.queries.status(job_id)).status for job_id in ids]
    assert statuses == [JobStatus.SUCCESSFUL, JobStatus.ACCEPTED, JobStatus.SUCCESSFUL]
    assert f"could not record Succeeded of job {ids[1]}" in caplog.text


class PoisonedLog(InMemoryJobLogStore):
    """Cannot store lines that contain "poison"; batches fail whole, as a transaction does."""

    async def append_many(self, lines):  # type: ignore[no-untyped-def]
        if any("poison" in x.line for x in lines):
            raise ValueError("cannot encode a line")
        return await super().append_many(lines)

    async def append(self, job_id, at, level, line):  # type: ignore[no-untyped-def]
        if "poison" in line:
            raise ValueError("cannot encode a line")
        return await super().append(job_id, at, level, line)


async def test_a_log_line_that_cannot_be_stored_costs_only_itself(caplog) -> None:
    logs = PoisonedLog()
    records = JobRecords(InMemoryJobRepository(), logs, build_service().catalog)
    await records.record([Logged(job_id="a", at=LATER, line=text) for text in ("one", "poison", "two")])
    assert [r.line for r in await logs.read("a")] == ["one", "two"]
    assert "could not store a log line of job a" in caplog.text


class UnreachableExecutor(HeldExecutor):
    """Its cluster cannot be reached when a job is to be cancelled."""

    async def cancel(self, job: Job) -> None:
        raise Unavailable("dask gateway", f"cluster of {job.executor_ref} is down")


async def test_a_job_whose_cluster_cannot_be_reached_is_dismissed_and_the_log_says_its_run_was_not_stopped(
    caplog,
) -> None:
    service = await started_service(UnreachableExecutor(), CountingRepository())
    job_id = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job.job_id
    dismissed = await service.dismissal.dismiss(job_id)
    assert dismissed.status is JobStatus.DISMISSED
    assert (await service.queries.status(job_id)).status is JobStatus.DISMISSED
    assert f"job {job_id} is dismissed, but its run could not be stopped" in caplog.text
    assert "is down" in caplog.text
