"""The job use cases, driven through in-memory adapters and the in-process executor."""

from __future__ import annotations

import msgspec
import pytest

from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.settings import ServerSettings
from dpr.domain.errors import (
    InvalidInput,
    JobFailedError,
    NoSuchJob,
    NoSuchProcess,
    NotAllowed,
    Overloaded,
    ResultNotReady,
)
from dpr.domain.job import Job
from dpr.domain.mode import Mode, Preference
from dpr.domain.principal import Principal
from dpr.domain.query import JobQuery
from dpr.domain.status import JobStatus
from dpr.services.recovery import LOST
from dpr.services.submission import Limits
from tests.builders import execute_body
from tests.services import Services
from tests.unit.conftest import build_service

ASYNC = Preference(respond_async=True)


TICK = 0.1  # seconds the executor's manual clock moves per look at the job


async def finished(service: Services, job_id: str, timeout: float = 60) -> Job:
    """The job once it has ended, within ``timeout`` seconds of the executor's clock."""
    return await until(service, job_id, lambda j: j.is_terminal, timeout)


async def until(service: Services, job_id: str, predicate, timeout: float = 60) -> Job:
    """The job once ``predicate`` holds, moving the executor's clock on a tick at a time."""
    for _ in range(round(timeout / TICK)):
        job = await service.queries.status(job_id)
        if predicate(job):
            return job
        await service.executor.advance(TICK)
    raise AssertionError(f"condition never met in {timeout} s; job is {job.status} {job.progress}%")


async def test_sync_execution_of_echo_returns_the_successful_job(service):
    run = await service.submission.execute("echo", execute_body({"inputs": {"echo": "hi"}}))
    assert run.mode is Mode.SYNC and run.job.status is JobStatus.SUCCESSFUL
    assert run.job.results == {"echo": "hi", "inputs": {"echo": "hi"}}


async def test_async_execution_answers_at_once_and_the_job_completes(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 0.2}}), ASYNC)
    assert run.mode is Mode.ASYNC and run.job.status is JobStatus.ACCEPTED
    assert (run.respond_async_applied, run.wait_applied) == (True, None) and run.job.executor_ref
    job = await finished(service, run.job.job_id)
    assert job.status is JobStatus.SUCCESSFUL and job.progress == 100 and job.started and job.finished
    assert job.results["products"][0]["type"] == "S1SEWRAW"


async def test_progress_and_log_lines_are_recorded_while_running(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 1}}), ASYNC)
    job = await until(service, run.job.job_id, lambda j: 0 < j.progress < 100)
    assert job.status is JobStatus.RUNNING and job.message.startswith("step ")
    await finished(service, run.job.job_id)
    _, lines = await service.queries.logs(run.job.job_id)
    assert [r.seq for r in lines] == list(range(len(lines))) and len(lines) == 11


@pytest.mark.virtual_time  # the wait passes at once
async def test_sync_execution_with_a_short_wait_falls_back_to_async(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 2}}), Preference(wait=0.1))
    assert run.mode is Mode.ASYNC and run.job.status in (JobStatus.ACCEPTED, JobStatus.RUNNING)
    assert (run.respond_async_applied, run.wait_applied) == (False, 0.1)
    await service.dismissal.dismiss(run.job.job_id)


async def test_an_invalid_input_creates_no_job(service):
    with pytest.raises(InvalidInput):
        await service.submission.execute("mockup", execute_body({"inputs": {"duration": "long"}}))
    assert (await service.queries.list_jobs(JobQuery(now=service.clock.now()))).jobs == []


async def test_an_unknown_process_is_refused(service):
    with pytest.raises(NoSuchProcess):
        await service.submission.execute("nope", execute_body({}))


async def test_a_failing_processor_fails_the_job_with_its_reason(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 0.1, "fail": True}}), ASYNC)
    job = await finished(service, run.job.job_id)
    assert job.status is JobStatus.FAILED and "failed on request" in job.error
    with pytest.raises(JobFailedError, match="failed on request"):
        await service.queries.results(job.job_id)


async def test_a_crashing_processor_fails_the_job_and_logs_the_traceback(service):
    job = (await service.submission.execute("crash", execute_body({}))).job
    assert job.status is JobStatus.FAILED and job.error == "ZeroDivisionError: division by zero in the test processor"
    _, lines = await service.queries.logs(job.job_id)
    assert any("Traceback" in r.line and r.level == "ERROR" for r in lines)


async def test_results_are_not_ready_while_the_job_runs(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 2}}), ASYNC)
    with pytest.raises(ResultNotReady):
        await service.queries.results(run.job.job_id)
    await service.dismissal.dismiss(run.job.job_id)


async def test_dismissing_a_running_job_stops_it_and_it_stays_dismissed(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 30}}), ASYNC)
    await until(service, run.job.job_id, lambda j: j.status is JobStatus.RUNNING)
    dismissed = await service.dismissal.dismiss(run.job.job_id)
    assert dismissed.status is JobStatus.DISMISSED and dismissed.finished is not None
    await service.executor.advance()  # the processor notices its flag; its "failed" event is ignored
    job = await service.queries.status(run.job.job_id)
    assert job.status is JobStatus.DISMISSED and not await service.executor.adopt(job)


async def test_dismissing_a_queued_job_means_it_never_starts():
    service = build_service(workers=1)
    await service.start()
    try:
        first = (await service.submission.execute("mockup", execute_body({"inputs": {"duration": 0.5}}), ASYNC)).job
        queued = (await service.submission.execute("mockup", execute_body({"inputs": {"duration": 0.5}}), ASYNC)).job
        await service.dismissal.dismiss(queued.job_id)
        await finished(service, first.job_id)
        await service.executor.advance()
        job = await service.queries.status(queued.job_id)
        assert job.status is JobStatus.DISMISSED and job.started is None
    finally:
        await service.close()


async def test_dismissing_an_ended_job_again_changes_nothing(service):
    run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 30}}), ASYNC)
    dismissed = await service.dismissal.dismiss(run.job.job_id)
    assert await service.dismissal.dismiss(run.job.job_id) == dismissed, "a retried DELETE keeps the record"
    finished = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}))).job
    assert await service.dismissal.dismiss(finished.job_id) == await service.queries.status(finished.job_id)
    assert (await service.queries.status(finished.job_id)).status is JobStatus.SUCCESSFUL


async def test_purging_a_finished_job_removes_it_and_its_log(service):
    job = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}))).job
    gone = await service.dismissal.dismiss(job.job_id, purge=True)
    assert gone.status is JobStatus.DISMISSED and gone.results is None
    with pytest.raises(NoSuchJob):
        await service.queries.status(job.job_id)
    assert await service.log_store.read(job.job_id) == []


async def test_a_process_without_dismiss_refuses_it(service):
    run = await service.submission.execute("stubborn", execute_body({"inputs": {"seconds": 5}}))
    with pytest.raises(NotAllowed):
        await service.dismissal.dismiss(run.job.job_id)
    assert (await service.queries.status(run.job.job_id)).status is not JobStatus.DISMISSED
    await service.executor.cancel(run.job)


async def test_admission_limits_answer_overloaded():
    service = build_service(limits=Limits(max_active=1, retry_after=9))
    await service.start()
    try:
        run = await service.submission.execute("mockup", execute_body({"inputs": {"duration": 5}}), ASYNC)
        with pytest.raises(Overloaded) as info:
            await service.submission.execute("mockup", execute_body({"inputs": {"duration": 5}}), ASYNC)
        assert info.value.retry_after == 9
        await service.dismissal.dismiss(run.job.job_id)
        await service.submission.execute("echo", execute_body({"inputs": {"echo": "room again"}}))
    finally:
        await service.close()


async def test_one_owner_may_hold_only_its_share_of_outstanding_jobs_others_still_get_in():
    service = build_service(limits=Limits(max_active=10, max_active_per_owner=2, retry_after=7))
    alice, bob = Principal(subject="alice"), Principal(subject="bob")
    slow = execute_body({"inputs": {"duration": 5}})
    await service.start()
    try:
        held = [(await service.submission.execute("mockup", slow, ASYNC, caller=alice)).job for _ in range(2)]
        with pytest.raises(Overloaded) as info:
            await service.submission.execute("mockup", slow, ASYNC, caller=alice)
        assert info.value.retry_after == 7 and "2 outstanding jobs" in info.value.reason
        assert (await service.submission.execute("mockup", slow, ASYNC, caller=bob)).job.owner == "bob"
        await service.dismissal.dismiss(held[0].job_id)
        assert (await service.submission.execute("mockup", slow, ASYNC, caller=alice)).job.owner == "alice"
    finally:
        await service.close()


async def test_jobs_left_active_by_an_earlier_run_are_failed_at_start_once_its_lease_expired():
    repository = InMemoryJobRepository()
    first = build_service(repository=repository)
    await first.start()
    run = await first.submission.execute("mockup", execute_body({"inputs": {"duration": 30}}), ASYNC)
    await until(first, run.job.job_id, lambda j: j.status is JobStatus.RUNNING)
    # the process dies: a new service starts on the same store with a fresh executor, once its lease ran out
    second = build_service(repository=repository)
    second.clock.advance(ServerSettings().lease + 1)
    lost = await second.start()
    try:
        assert [j.job_id for j in lost] == [run.job.job_id]
        job = await second.queries.status(run.job.job_id)
        assert job.status is JobStatus.FAILED and LOST in job.error
    finally:
        await first.dismissal.dismiss(run.job.job_id)
        await first.close()
        await second.close()


async def test_a_job_accepted_but_never_started_before_a_crash_is_queued_again_and_runs():
    repository = InMemoryJobRepository()
    first = build_service(repository=repository, workers=1)
    await first.start()
    busy = await first.submission.execute("mockup", execute_body({"inputs": {"duration": 30}}), ASYNC)
    await until(first, busy.job.job_id, lambda j: j.status is JobStatus.RUNNING)
    queued = await first.submission.execute("echo", execute_body({"inputs": {"echo": "again"}}), ASYNC)
    assert queued.job.status is JobStatus.ACCEPTED, "the only worker is busy"
    second = build_service(repository=repository)
    second.clock.advance(ServerSettings().lease + 1)  # the first instance died that long ago
    try:
        assert [j.job_id for j in await second.start()] == [busy.job.job_id], "only the started job is lost"
        job = await finished(second, queued.job.job_id)
        assert job.status is JobStatus.SUCCESSFUL and job.results is not None and job.results["echo"] == "again"
        assert job.owner_instance == second.container.instance().current
    finally:
        await first.dismissal.dismiss(busy.job.job_id)
        await first.close()
        await second.close()


async def test_an_instance_starting_beside_a_live_one_leaves_its_jobs_alone():
    repository = InMemoryJobRepository()
    first = build_service(repository=repository)
    await first.start()
    second = build_service(repository=repository)
    try:
        run = await first.submission.execute("mockup", execute_body({"inputs": {"duration": 30}}), ASYNC)
        assert await second.start() == []
        job = await second.queries.status(run.job.job_id)
        assert not job.is_terminal and job.owner_instance == first.container.instance().current
    finally:
        await first.dismissal.dismiss(run.job.job_id)
        await second.close()
        await first.close()


async def test_a_chatty_processor_ends_with_every_report_applied_in_order(service):
    run = await service.submission.execute("chatty", execute_body({"inputs": {"reports": 3000}}), ASYNC)
    job = await finished(service, run.job.job_id)
    assert job.status is JobStatus.SUCCESSFUL and job.progress == 100 and job.results == {"reports": 3000}


async def test_secrets_reach_the_processor_but_never_the_record_or_the_log(service):
    secret = "tok-9f8e7d6c5b4a"
    job = (await service.submission.execute("secret-echo", execute_body({}), secrets={"TOKEN": secret})).job
    assert job.results == {"seen": True}
    _, lines = await service.queries.logs(job.job_id)
    assert lines and all(secret not in r.line for r in lines) and "***" in lines[0].line
    assert secret not in msgspec.json.encode(await service.queries.status(job.job_id)).decode()
