"""The Dask executor on a real cluster: a ``dask scheduler`` and two ``dask worker`` processes.

Running, worker deaths, service restarts, and dismissal from another instance down to the
subprocesses a processor started.

Jobs go through the Services as in production. The scheduler runs with its default settings
(``allowed-failures: 3``): a worker dying under a job makes the scheduler run it again by itself,
and the job's ``retries``, not the scheduler's setting, decide whether it may go on.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator

import msgspec
import pytest
from distributed import Client

from dpr.adapters.clock import UuidIdGenerator
from dpr.adapters.dask import DaskExecutor, SchedulerSource, WorkerTuning
from dpr.adapters.dask.wire import TOPIC, decode_events
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import ProcessDefinition, ProcessSettings, ServerSettings, Settings, ephemeral
from dpr.domain.events import AnyEvent, Logged, Started, Succeeded
from dpr.domain.job import Job
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from dpr.services.recovery import LOST
from tests.builders import execute_body, make_job
from tests.integration.dask_processes import Cluster
from tests.services import Services, wire
from tests.waiting import async_wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASYNC = Preference(respond_async=True)
TUNING = WorkerTuning(flush_interval=0.1, cancel_poll=0.1, cancel_grace=1.0)
SLEEP = {"argv": ["sleep", "{seconds}"], "inputs": {"seconds": {"type": "number"}}}
STUBBORN = {"argv": ["sh", "-c", "trap '' TERM; sleep {seconds}"], "inputs": {"seconds": {"type": "number"}}}
DEFINITIONS = [
    ProcessDefinition(id="mockup", processor="dpr.adapters.processors.mockup:MockupProcessor"),
    ProcessDefinition(id="mockup-retry", processor="dpr.adapters.processors.mockup:MockupProcessor", retries=1),
    ProcessDefinition(id="sleep", processor="dpr.adapters.processors.command:CommandProcessor", options=SLEEP),
    ProcessDefinition(id="stubborn", processor="dpr.adapters.processors.command:CommandProcessor", options=STUBBORN),
]


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = Cluster(tmp_path_factory.mktemp("dask"))
    try:
        running.add_worker()
        running.add_worker()
        yield running
    finally:
        running.stop()
    assert all(p.poll() is not None for p in [running.scheduler, *running.workers.values()]), "clean teardown"


@pytest.fixture
async def client(cluster: Cluster) -> Client:
    """A plain client to look at the cluster; the cluster has two workers when the test starts."""
    while len(cluster.workers) < 2:
        cluster.add_worker()
    async with Client(cluster.address, asynchronous=True, set_as_default=False) as plain:
        await plain.wait_for_workers(2, timeout=30)
        yield plain


def service_on(
    address: str, repository: InMemoryJobRepository, logs: InMemoryJobLogStore, lease: float | None = None
) -> Services:
    """One API instance: its own executor connected to the shared scheduler, shared stores."""
    executor = DaskExecutor(SchedulerSource(address), tuning=TUNING)
    settings = Settings(processes=ProcessSettings(definitions=DEFINITIONS))
    if lease is not None:
        settings = msgspec.structs.replace(settings, server=ServerSettings(lease=lease))
    return wire(
        settings=ephemeral(settings),
        repository=repository,
        log_store=logs,
        executor=executor,
        ids=UuidIdGenerator(),
    )


@pytest.fixture
def stores() -> tuple[InMemoryJobRepository, InMemoryJobLogStore]:
    return InMemoryJobRepository(), InMemoryJobLogStore()


async def until(check: Callable[[], object], timeout: float = 30, what: str = "condition") -> None:
    await async_wait_for(check, timeout, what)


async def running(service: Services, process_id: str, inputs: dict[str, object]) -> Job:
    job = (await service.submission.execute(process_id, execute_body({"inputs": inputs}), ASYNC)).job
    await until(lambda: _is_running(service, job.job_id), what=f"{process_id} job to run (it is {job.status})")
    return job


async def _is_running(service: Services, job_id: str) -> bool:
    job = await service.queries.status(job_id)
    assert not job.is_terminal, f"the job ended before it was seen running: {job.status} {job.error}"
    return job.status is JobStatus.RUNNING


async def worker_running(client: Client, job_id: str) -> str:
    processing = await client.processing()
    return next(worker for worker, keys in processing.items() if f"dpr-job-{job_id}" in keys)


async def test_jobs_run_on_the_cluster_and_their_logs_and_results_are_recorded(cluster, client, stores):
    service = service_on(cluster.address, *stores)
    await service.start()
    try:
        jobs = [
            (await service.submission.execute("mockup", execute_body({"inputs": {"duration": 0.3}}), ASYNC)).job
            for _ in range(4)
        ]
        done = [await service.queries.wait(j.job_id, 30) for j in jobs]
        assert [j.status for j in done] == [JobStatus.SUCCESSFUL] * 4
        assert done[0].results is not None and done[0].results["products"][0]["type"] == "S1SEWRAW"
        assert "mockup: step 10/10 done" in [r.line for r in await stores[1].read(jobs[0].job_id)]
        await until(lambda: no_dpr_datasets(client), what="the finished jobs' datasets to go")
    finally:
        await service.close()


async def no_dpr_datasets(client: Client) -> bool:
    return not [name for name in await client.list_datasets() if str(name).startswith("dpr-")]


async def test_a_job_whose_worker_dies_runs_again_when_its_retries_allow(cluster, client, stores):
    service = service_on(cluster.address, *stores)
    await service.start()
    try:
        job = await running(service, "mockup-retry", {"duration": 3})
        cluster.kill_worker(await worker_running(client, job.job_id))
        done = await service.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.SUCCESSFUL
        assert any("running it again" in r.line for r in await stores[1].read(job.job_id))
    finally:
        await service.close()


async def test_a_job_whose_worker_dies_fails_with_a_clear_message_without_retries(cluster, client, stores):
    service = service_on(cluster.address, *stores)
    await service.start()
    try:
        job = await running(service, "mockup", {"duration": 3})
        cluster.kill_worker(await worker_running(client, job.job_id))
        done = await service.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.FAILED
        assert done.error is not None and done.error.startswith("the worker running this job died")
    finally:
        await service.close()


async def test_a_restarted_service_adopts_the_running_job_and_records_its_success(cluster, client, stores):
    first = service_on(cluster.address, *stores)
    await first.start()
    job = await running(first, "mockup", {"duration": 2})
    await first.close()
    second = service_on(cluster.address, *stores)
    try:
        assert await second.start() == []
        done = await second.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.SUCCESSFUL and done.results is not None
    finally:
        await second.close()


async def test_a_job_that_ended_while_no_service_listened_is_recorded_from_its_result(cluster, client, stores):
    first = service_on(cluster.address, *stores)
    await first.start()
    job = await running(first, "mockup", {"duration": 0.5})
    await first.close()
    await until(lambda: _task_state(client, job.job_id, "memory"), what="the task to finish unobserved")
    second = service_on(cluster.address, *stores)
    try:
        assert await second.start() == []
        done = await second.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.SUCCESSFUL and done.results is not None
        await until(lambda: no_dpr_datasets(client), what="the adopted job's dataset to go")
    finally:
        await second.close()


async def _task_state(client: Client, job_id: str, state: str | None) -> bool:
    key = f"dpr-job-{job_id}"
    return (await client.scheduler.get_task_status(keys=[key])).get(key) == state


async def test_after_a_restart_a_job_the_scheduler_does_not_know_is_failed(cluster, client, stores):
    repository, logs = stores
    await repository.add(make_job(job_id="never-on-this-cluster", process_id="mockup", status=JobStatus.RUNNING))
    service = service_on(cluster.address, repository, logs)
    try:
        lost = await service.start()
        assert [j.job_id for j in lost] == ["never-on-this-cluster"]
        assert (await service.queries.status("never-on-this-cluster")).error == LOST
    finally:
        await service.close()


async def subprocess_pid(logs: InMemoryJobLogStore, job_id: str) -> int:
    async def pid() -> int | None:
        found = [re.search(r"\(pid (\d+)\)", r.line) for r in await logs.read(job_id)]
        return next((int(m.group(1)) for m in found if m), None)

    await until(pid, what="the subprocess to start")
    value = await pid()
    assert value is not None
    return value


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_second_instance_dismisses_a_running_job_and_its_subprocess_ends(cluster, client, stores):
    first, second = service_on(cluster.address, *stores), service_on(cluster.address, *stores)
    await first.start()
    try:
        job = await running(first, "sleep", {"seconds": 60})
        pid = await subprocess_pid(stores[1], job.job_id)
        await second.start()
        dismissed = await second.dismissal.dismiss(job.job_id)
        assert dismissed.status is JobStatus.DISMISSED
        await until(lambda: not alive(pid), timeout=5, what=f"subprocess {pid} to end")
        assert (await first.queries.status(job.job_id)).status is JobStatus.DISMISSED
        await until(lambda: no_dpr_datasets(client), what="the dismissed job's dataset to go")
    finally:
        await asyncio.gather(first.close(), second.close())


async def test_a_subprocess_that_ignores_sigterm_is_killed_after_the_grace_period(cluster, client, stores):
    service = service_on(cluster.address, *stores)
    await service.start()
    try:
        job = await running(service, "stubborn", {"seconds": 60})
        pid = await subprocess_pid(stores[1], job.job_id)
        await service.dismissal.dismiss(job.job_id)
        await asyncio.sleep(TUNING.cancel_grace / 2)
        assert alive(pid), "SIGTERM is ignored: the program lives until the grace period ends"
        await until(lambda: not alive(pid), timeout=TUNING.cancel_grace + 5, what=f"subprocess {pid} to be killed")
    finally:
        await service.close()


async def ignore(events: object) -> None:
    """An event handler for an executor whose events the test does not look at."""


async def test_an_executor_that_never_saw_a_job_cancels_it_on_the_scheduler(cluster, client, stores):
    # Another API instance, started without adopting: it knows the job only by its id, as when a
    # DELETE reaches an instance that did not submit it.
    service = service_on(cluster.address, *stores)
    other = DaskExecutor(SchedulerSource(cluster.address), tuning=TUNING)
    await service.start()
    try:
        job = await running(service, "sleep", {"seconds": 60})
        pid = await subprocess_pid(stores[1], job.job_id)
        await other.start(ignore)
        await other.cancel(job)
        await until(lambda: not alive(pid), timeout=TUNING.cancel_grace + 10, what=f"subprocess {pid} to end")
        await until(lambda: _task_state(client, job.job_id, None), what="the scheduler to drop the task")
    finally:
        await asyncio.gather(service.close(), other.close())


async def logged_events(client: Client, job_id: str) -> list[AnyEvent]:
    """The job's events the scheduler keeps on the topic, as the worker sent them."""
    return [e for _, data in await client.get_events(TOPIC) for e in decode_events(data) if e.job_id == job_id]


async def lines_sent(client: Client, job_id: str) -> list[str]:
    return [e.line for e in await logged_events(client, job_id) if isinstance(e, Logged)]


async def test_an_instance_detached_and_reattached_mid_run_loses_no_line_and_duplicates_none(cluster, client, stores):
    first = service_on(cluster.address, *stores)
    await first.start()
    job = await running(first, "mockup", {"duration": 3})
    await until(lambda: _has_lines(stores[1], job.job_id), what="a first line recorded")
    await first.close()
    stored_before = len(await stores[1].read(job.job_id))
    await until(lambda: _more_sent(client, job.job_id, stored_before + 2), what="lines sent while no instance listened")
    second = service_on(cluster.address, *stores)
    try:
        assert await second.start() == []
        done = await second.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.SUCCESSFUL
        recorded = [r.line for r in await stores[1].read(job.job_id)]
        assert recorded == await lines_sent(client, job.job_id), "every line once, in order"
        assert sum(line.startswith("mockup: step") for line in recorded) == 10
    finally:
        await second.close()


async def test_a_job_that_started_while_no_instance_listened_keeps_its_workers_start_time(cluster, client, stores):
    first = service_on(cluster.address, *stores)
    await first.start()
    job = (await first.submission.execute("mockup", execute_body({"inputs": {"duration": 2}}), ASYNC)).job
    await first.close()
    await until(lambda: _more_sent(client, job.job_id, 2), what="the job to start and log unobserved")
    (started,) = [e for e in await logged_events(client, job.job_id) if isinstance(e, Started)]
    second = service_on(cluster.address, *stores)
    try:
        assert await second.start() == []
        done = await second.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.SUCCESSFUL
        assert done.started == started.at
        recorded = [r.line for r in await stores[1].read(job.job_id)]
        assert recorded == await lines_sent(client, job.job_id)
    finally:
        await second.close()


async def test_a_job_without_retries_is_not_silently_rerun_when_the_scheduler_would(cluster, client, stores):
    service = service_on(cluster.address, *stores)
    await service.start()
    try:
        job = await running(service, "mockup", {"duration": 4})
        cluster.kill_worker(await worker_running(client, job.job_id))
        done = await service.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.FAILED
        assert done.error == "the worker running this job died (1 time(s); the process allows 0 retries)"
        await until(lambda: _task_state(client, job.job_id, None), what="the re-run task to be stopped")
        runs = {e.run for e in await logged_events(client, job.job_id) if isinstance(e, Started)}
        successes = [e for e in await logged_events(client, job.job_id) if isinstance(e, Succeeded)]
        assert len(runs) <= 2 and successes == [], "the re-run was stopped before it could finish"
    finally:
        await service.close()


async def _has_lines(logs: InMemoryJobLogStore, job_id: str) -> bool:
    return bool(await logs.read(job_id))


async def _more_sent(client: Client, job_id: str, count: int) -> bool:
    return len(await lines_sent(client, job_id)) >= count


async def test_a_second_instance_leaves_a_live_ones_job_alone_and_takes_it_over_when_it_stops(cluster, client, stores):
    first = service_on(cluster.address, *stores, lease=1.5)
    second = service_on(cluster.address, *stores, lease=1.5)
    await first.start()
    try:
        job = await running(first, "mockup", {"duration": 3})
        assert await second.start() == [], "the first instance's lease is live: its job is not adopted"
        assert not second.executor.tracks(job.job_id)
        await first.close()  # a clean stop: its lease is released, its job goes on on the cluster
        await until(lambda: second.executor.tracks(job.job_id), what="the second instance to take the job over")
        done = await second.queries.wait(job.job_id, 30)
        assert done.status is JobStatus.SUCCESSFUL and done.owner_instance == second.container.instance().current
        recorded = [r.line for r in await stores[1].read(job.job_id)]
        assert recorded == await lines_sent(client, job.job_id), "every line once, in order"
    finally:
        await first.close()
        await second.close()


async def test_a_second_instance_dismisses_a_queued_job_and_its_task_never_runs(cluster, client, stores):
    first, second = service_on(cluster.address, *stores), service_on(cluster.address, *stores)
    await asyncio.gather(first.start(), second.start())
    try:
        busy = [await running(first, "sleep", {"seconds": 60}) for _ in range(2)]  # both workers
        queued = (await first.submission.execute("sleep", execute_body({"inputs": {"seconds": 60}}), ASYNC)).job
        await until(lambda: _task_known(client, queued.job_id), what="the third job to reach the scheduler")
        dismissed = await second.dismissal.dismiss(queued.job_id)
        assert dismissed.status is JobStatus.DISMISSED
        await until(lambda: _task_state(client, queued.job_id, None), what="the scheduler to drop the queued task")
        for job in busy:
            await first.dismissal.dismiss(job.job_id)
        await until(lambda: no_dpr_datasets(client), what="every dismissed job's dataset to go")
        assert await _task_state(client, queued.job_id, None), "the dismissed job never ran once workers were free"
        assert (await first.queries.status(queued.job_id)).status is JobStatus.DISMISSED
    finally:
        await asyncio.gather(first.close(), second.close())


async def _task_known(client: Client, job_id: str) -> bool:
    return not await _task_state(client, job_id, None)
