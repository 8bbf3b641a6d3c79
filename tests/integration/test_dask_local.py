"""``executor.kind: local``: the embedded cluster of worker processes, wired by the container."""

from __future__ import annotations

import pytest

from dpr.adapters.background_start import BackgroundStart
from dpr.adapters.dask import DaskExecutor, LocalClusterSource
from dpr.adapters.settings import (
    ExecutorSettings,
    ProcessDefinition,
    ProcessSettings,
    Settings,
    StorageSettings,
)
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from dpr.entrypoints.container import build_container
from tests.builders import execute_body, make_job
from tests.integration.server import ROOT
from tests.services import Services

pytestmark = [pytest.mark.integration, pytest.mark.slow]


async def test_the_container_runs_jobs_on_an_embedded_cluster_of_worker_processes():
    settings = Settings(
        storage=StorageSettings(url="memory://"),
        executor=ExecutorSettings(kind="local", workers=1, threads_per_worker=1, cancel_grace=3),
    )
    container = build_container(settings)
    service = Services(container)
    starting = container.executor()
    assert isinstance(starting, BackgroundStart) and starting.starting() == "the embedded Dask cluster is starting"
    await service.start()
    try:
        await starting.started()
        executor = starting.inner
        assert isinstance(executor, DaskExecutor) and isinstance(executor.source, LocalClusterSource)
        assert executor.tuning.cancel_grace == 3
        job = (
            await service.submission.execute(
                "mockup", execute_body({"inputs": {"duration": 0.2}}), Preference(respond_async=True)
            )
        ).job
        done = await service.queries.wait(job.job_id, 60)
        assert done.status is JobStatus.SUCCESSFUL and done.progress == 100
        assert await executor.adopt(make_job(job_id="from-an-earlier-run", status=JobStatus.RUNNING)) is False
        assert executor.client is not None and list((await executor.client.nthreads()).values()) == [1]
    finally:
        await service.close()
    assert executor.client is None


async def test_worker_processes_inherit_only_what_processors_declare(monkeypatch):
    monkeypatch.setenv("DPR_STORAGE_PASSWORD_FOR_TEST", "service-secret-1234")
    monkeypatch.setenv("TOKEN", "declared-by-a-processor")
    monkeypatch.setenv("PYTHONPATH", str(ROOT))  # the workers import tests.processors
    definitions = [ProcessDefinition(id="env-report", processor="tests.processors:EnvironmentReport", env=["TOKEN"])]
    settings = Settings(
        storage=StorageSettings(url="memory://"),
        executor=ExecutorSettings(kind="local", workers=1, threads_per_worker=1),
        processes=ProcessSettings(definitions=definitions),
    )
    service = Services(build_container(settings))
    await service.start()
    try:
        job = (await service.submission.execute("env-report", execute_body({}))).job
        assert job.status is JobStatus.SUCCESSFUL, job.error
        seen = set(job.results["names"])
        assert "TOKEN" in seen and "PATH" in seen
        assert "DPR_STORAGE_PASSWORD_FOR_TEST" not in seen
    finally:
        await service.close()
