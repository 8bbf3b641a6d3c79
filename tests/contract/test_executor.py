"""The Executor contract, run against every executor: the fake one and the Dask one."""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from distributed import LocalCluster
from executors import ECHO, KINDS, MOCKUP, SECRET_ECHO, Recorder, build_executor, in_process_cluster, order
from msgspec.structs import replace

from dpr.domain.events import Failed, Logged, Progressed, Started, Succeeded
from dpr.domain.job import Job
from dpr.ports.executor import Executor
from tests.builders import make_job

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def cluster() -> AsyncIterator[LocalCluster]:
    async with in_process_cluster() as running:
        yield running


@pytest_asyncio.fixture(params=KINDS, loop_scope="module")
async def running(request: pytest.FixtureRequest, cluster: LocalCluster) -> AsyncIterator[tuple[Executor, Recorder]]:
    """A started executor of each kind and the recorder of its events; closed afterwards."""
    executor = build_executor(request.param, cluster.scheduler_address)
    recorder = Recorder(executor)
    await executor.start(recorder)
    yield executor, recorder
    await executor.close()


async def test_a_successful_job_reports_started_first_and_succeeded_last_with_its_outputs(running):
    executor, recorder = running
    work = order(ECHO, echo="hello")
    ref = await executor.submit(work)
    outcome = await recorder.outcome(work.job_id)
    events = recorder.of(work.job_id)
    assert isinstance(ref, str) and ref
    assert isinstance(events[0], Started)
    assert isinstance(outcome, Succeeded) and events[-1] == outcome
    assert outcome.outputs["echo"] == "hello"
    assert [type(e) for e in events].count(Succeeded) == 1


async def test_a_reference_named_before_submitting_is_the_one_submit_returns(running):
    executor, recorder = running
    work = order(ECHO, echo="x")
    known = executor.reference(work)  # the job is stored with it: one write instead of two
    assert await executor.submit(work) == known
    assert isinstance(await recorder.outcome(work.job_id), Succeeded)


async def test_a_failing_processor_ends_its_job_with_failed_and_the_processors_message(running):
    executor, recorder = running
    work = order(MOCKUP, duration=0.1, fail=True)
    await executor.submit(work)
    outcome = await recorder.outcome(work.job_id)
    assert isinstance(outcome, Failed)
    assert outcome.error == "mockup failed on request at step 5 of 10"


async def test_progress_and_log_lines_arrive_between_started_and_the_outcome(running):
    executor, recorder = running
    work = order(MOCKUP, duration=0.3)
    await executor.submit(work)
    await recorder.outcome(work.job_id)
    events = recorder.of(work.job_id)
    progress = [e.progress for e in events if isinstance(e, Progressed)]
    lines = [e.line for e in events if isinstance(e, Logged)]
    assert progress and progress == sorted(progress) and progress[-1] == 100
    assert "mockup: step 10/10 done" in lines
    assert isinstance(events[0], Started) and isinstance(events[-1], Succeeded)


async def test_the_runs_secrets_never_appear_in_events(running):
    executor, recorder = running
    work = replace(order(SECRET_ECHO), secrets={"TOKEN": "s3cr3t-t0ken"})
    await executor.submit(work)
    outcome = await recorder.outcome(work.job_id)
    assert isinstance(outcome, Succeeded) and outcome.outputs == {"seen": True}
    assert "s3cr3t-t0ken" not in repr(recorder.of(work.job_id))


async def test_a_job_cancelled_while_queued_never_starts(running):
    executor, recorder = running
    busy, queued = order(ECHO, echo="busy", pause=30), order(ECHO, echo="queued")
    await executor.submit(busy)
    await recorder.wait_for(busy.job_id, Started)
    await executor.submit(queued)
    await executor.cancel(make_job(job_id=queued.job_id))
    await executor.cancel(make_job(job_id=busy.job_id))
    await recorder.outcome(busy.job_id)
    after = order(ECHO, echo="after")  # one worker, first come first served: had the queued
    await executor.submit(after)  # job been kept, it would have started before this one ended
    await recorder.outcome(after.job_id)
    assert not recorder.started(queued.job_id)


async def test_a_job_cancelled_while_running_sees_the_flag_and_stops(running):
    executor, recorder = running
    work = order(ECHO, echo="long", pause=30)
    await executor.submit(work)
    await recorder.wait_for(work.job_id, Started)
    await executor.cancel(make_job(job_id=work.job_id))
    outcome = await recorder.outcome(work.job_id)
    assert isinstance(outcome, Failed) and outcome.error == "cancelled on request"


async def test_the_next_job_runs_after_a_running_one_was_cancelled(running):
    executor, recorder = running
    first, second = order(ECHO, echo="first", pause=30), order(ECHO, echo="second")
    await executor.submit(first)
    await recorder.wait_for(first.job_id, Started)
    await executor.cancel(make_job(job_id=first.job_id))
    await executor.submit(second)
    assert isinstance(await recorder.outcome(second.job_id), Succeeded)


async def test_cancelling_an_unknown_job_does_nothing(running):
    executor, recorder = running
    await executor.cancel(make_job(job_id="no-such-job"))
    await executor.cancel(make_job(job_id="no-such-job"))
    assert recorder.events == []


async def test_adopting_a_job_the_executor_never_saw_returns_false(running):
    executor, _ = running
    job: Job = make_job(job_id="never-submitted")
    assert await executor.adopt(job) is False


async def test_closing_after_work_is_clean_and_can_be_repeated(running):
    executor, recorder = running
    work = order(ECHO, echo="last")
    await executor.submit(work)
    await recorder.outcome(work.job_id)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        await executor.close()
        await executor.close()
