"""The Dask executor when its client loses the scheduler and reconnects.

Under heavy load a client's connection to the scheduler can break (the embedded cluster's
scheduler shares the service's process); ``distributed.Client`` reconnects by itself, but the
jobs this instance followed must not stay accepted or running forever: each ends, successful or
failed with a message saying the cluster lost it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dpr.adapters.clock import UuidIdGenerator
from dpr.adapters.dask import DaskExecutor, LocalClusterSource, SchedulerSource, WorkerTuning
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import ProcessDefinition, ProcessSettings, Settings, ephemeral
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from tests.builders import execute_body
from tests.integration.dask_processes import DASK, Cluster
from tests.integration.server import wait_for_port
from tests.services import Services, wire
from tests.waiting import async_wait_for, scaled

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ASYNC = Preference(respond_async=True)
TUNING = WorkerTuning(flush_interval=0.1, cancel_poll=0.1, cancel_grace=1.0)
DEFINITIONS = [ProcessDefinition(id="mockup", processor="dpr.adapters.processors.mockup:MockupProcessor")]


def service_on(
    source: LocalClusterSource | SchedulerSource,
    repository: InMemoryJobRepository,
    logs: InMemoryJobLogStore | None = None,
) -> tuple[Services, DaskExecutor]:
    """The service on the Dask cluster ``source`` names, checking its scheduler every 0.5 s."""
    executor = DaskExecutor(source, tuning=TUNING, check_every=0.5)
    settings = ephemeral(Settings(processes=ProcessSettings(definitions=DEFINITIONS)))
    service = wire(
        settings=settings,
        repository=repository,
        log_store=logs or InMemoryJobLogStore(),
        executor=executor,
        ids=UuidIdGenerator(),
    )
    return service, executor


def embedded_service(repository: InMemoryJobRepository) -> Services:
    return service_on(LocalClusterSource(workers=2, processes=False), repository)[0]


async def submit(service: Services, count: int, duration: float) -> list[str]:
    body = execute_body({"inputs": {"duration": duration}})
    return [(await service.submission.execute("mockup", body, ASYNC)).job.job_id for _ in range(count)]


async def all_ended(repository: InMemoryJobRepository, job_ids: list[str]) -> bool:
    return all([(await repository.get(j)).is_terminal for j in job_ids])


async def test_every_job_ends_after_the_client_lost_and_regained_the_scheduler():
    repository = InMemoryJobRepository()
    service = embedded_service(repository)
    await service.start()
    try:
        executor = service.executor
        before = await submit(service, 6, 1.0)
        await async_wait_for(lambda: _some_running(repository, before), 30, "a job to run")
        comm = executor.client.scheduler_comm
        await comm.comm.close()  # the connection breaks; the client reconnects by itself
        during = await submit(service, 4, 0.3)
        await async_wait_for(lambda: executor.client.status == "running", 30, "the client to reconnect")
        after = await submit(service, 4, 0.3)
        jobs = [*before, *during, *after]
        await async_wait_for(lambda: all_ended(repository, jobs), 60, "every job to end")
        ended = [await repository.get(j) for j in jobs]
        for job in ended:
            assert job.status is JobStatus.SUCCESSFUL or (job.error and "cluster" in job.error), (job.status, job.error)
        assert all(j.status is JobStatus.SUCCESSFUL for j in ended[len(before) + len(during) :])
    finally:
        await service.close()


async def _some_running(repository: InMemoryJobRepository, job_ids: list[str]) -> bool:
    return any([(await repository.get(j)).status is JobStatus.RUNNING for j in job_ids])


async def test_jobs_whose_tasks_the_scheduler_forgot_without_a_word_fail_with_a_clear_message():
    """Under load the scheduler may handle the end of the client's old connection after the
    client re-registered: it then drops the client's claim on every task without telling it, and
    the queued ones are forgotten while their futures wait for ever."""
    repository = InMemoryJobRepository()
    service = embedded_service(repository)
    await service.start()
    try:
        executor = service.executor
        jobs = await submit(service, 8, 1.0)  # two workers of one thread: most wait in the queue
        await async_wait_for(lambda: _some_running(repository, jobs), 30, "a job to run")
        scheduler = executor.source._cluster.scheduler
        keys = [ts.key for ts in scheduler.clients[executor.client.id].wants_what]
        scheduler.client_releases_keys(keys=keys, client=executor.client.id, stimulus_id="late-remove-client")
        await async_wait_for(lambda: all_ended(repository, jobs), scaled(60), "every job to end")
        ended = [await repository.get(j) for j in jobs]
        lost = [j for j in ended if j.status is not JobStatus.SUCCESSFUL]
        assert lost, "the queued jobs were forgotten by the scheduler"
        assert all(j.status is JobStatus.FAILED and "no longer knows" in (j.error or "") for j in lost), [
            (j.status, j.error) for j in lost
        ]
        after = await submit(service, 2, 0.2)
        done = [await service.queries.wait(j, scaled(30)) for j in after]
        assert [j.status for j in done] == [JobStatus.SUCCESSFUL] * 2, [(j.status, j.error) for j in done]
    finally:
        await service.close()


def restart_scheduler(cluster: Cluster) -> None:
    """Kill the scheduler and start a new one on the same address, with a new worker (a worker
    without a nanny would end after its scheduler anyway)."""
    cluster.scheduler.kill()
    cluster.scheduler.wait()
    env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")}
    argv = [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(cluster.port), "--no-dashboard"]
    cluster.scheduler = cluster._spawn("scheduler-again", argv, env)
    wait_for_port(cluster.port)
    for address in list(cluster.workers):
        cluster.kill_worker(address)
    cluster.add_worker()


async def test_after_the_scheduler_restarted_jobs_end_and_new_ones_report_their_log_lines(tmp_path: Path):
    cluster = Cluster(tmp_path)
    repository, logs = InMemoryJobRepository(), InMemoryJobLogStore()
    try:
        cluster.add_worker()
        service, executor = service_on(SchedulerSource(cluster.address, timeout=30), repository, logs)
        await service.start()
        try:
            before = await submit(service, 2, 30.0)
            await async_wait_for(lambda: _some_running(repository, before), scaled(30), "a job to run")
            restart_scheduler(cluster)
            await async_wait_for(lambda: all_ended(repository, before), scaled(60), "the lost jobs to end")
            for job in [await repository.get(j) for j in before]:
                assert job.status is JobStatus.FAILED and "no longer knows" in (job.error or ""), (
                    job.status,
                    job.error,
                )
            await async_wait_for(lambda: executor.client.status == "running", scaled(30), "the client to reconnect")
            after = await submit(service, 1, 0.3)
            done = await service.queries.wait(after[0], scaled(60))
            assert done.status is JobStatus.SUCCESSFUL, (done.status, done.error)
            lines = [r.line for r in await logs.read(after[0])]
            assert "mockup: step 10/10 done" in lines, "the topic's events reach the instance again"
        finally:
            await service.close()
    finally:
        cluster.stop()


async def test_a_running_job_outlives_a_moment_without_its_remote_scheduler(tmp_path: Path):
    """On a durable cluster the task is published: the client cancelling its futures when it
    loses the connection must not fail a job that goes on running there."""
    cluster = Cluster(tmp_path)
    repository, logs = InMemoryJobRepository(), InMemoryJobLogStore()
    try:
        cluster.add_worker()
        service, executor = service_on(SchedulerSource(cluster.address), repository, logs)
        await service.start()
        try:
            jobs = await submit(service, 2, 3.0)
            await async_wait_for(lambda: _some_running(repository, jobs), scaled(30), "a job to run")
            await executor.client.scheduler_comm.comm.close()  # the client reconnects by itself
            done = [await service.queries.wait(j, scaled(60)) for j in jobs]
            assert [j.status for j in done] == [JobStatus.SUCCESSFUL] * 2, [(j.status, j.error) for j in done]
            for job_id in jobs:
                lines = [r.line for r in await logs.read(job_id)]
                assert "mockup: step 10/10 done" in lines
                assert len(lines) == len(set(lines)), "no line twice"
        finally:
            await service.close()
    finally:
        cluster.stop()
