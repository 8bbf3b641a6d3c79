"""``executor.kind: local``: the embedded cluster of worker processes, wired by the container."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import psutil
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
from tests.integration.server import ROOT, free_port, python_path
from tests.services import Services
from tests.waiting import scaled, wait_for

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


async def test_the_embedded_cluster_can_run_in_the_servers_own_process():
    settings = Settings(
        storage=StorageSettings(url="memory://"),
        executor=ExecutorSettings(kind="local", workers=1, threads_per_worker=1, scheduler_process=False),
    )
    service = Services(build_container(settings))
    await service.start()
    try:
        job = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "here"}}))).job
        assert job.status is JobStatus.SUCCESSFUL, job.error
        starting = service.container.executor()
        assert isinstance(starting, BackgroundStart)
        executor = starting.inner
        assert isinstance(executor, DaskExecutor) and isinstance(executor.source, LocalClusterSource)
        assert executor.source.own_process is False and executor.source._process is None
    finally:
        await service.close()


async def test_the_cluster_process_and_its_workers_end_with_the_service():
    source = LocalClusterSource(workers=1, own_process=True)
    client = await source.connect()
    try:
        assert source._process is not None
        cluster = psutil.Process(source._process.pid)
        workers = cluster.children(recursive=True)
        assert list((await client.nthreads()).values()) == [1]
    finally:
        await client.close()
        await source.close()
    assert not cluster.is_running()  # close() waited for it
    # its helpers (multiprocessing's resource tracker) end on their own once it has
    wait_for(lambda: not any(p.is_running() for p in workers), scaled(30), "the cluster's workers to end")


def test_the_cluster_process_ends_when_the_service_is_killed(tmp_path: Path):
    """Killed without a word (SIGKILL), the service cannot close the cluster: its process sees
    its end of the socket closed and closes the cluster and its workers."""
    script = tmp_path / "service.py"
    script.write_text(
        "import asyncio, sys\n"
        "from dpr.adapters.dask import LocalClusterSource\n"
        "async def main():\n"
        "    source = LocalClusterSource(workers=1, own_process=True)\n"
        "    await source.connect()\n"
        "    print(source._process.pid, flush=True)\n"
        "    await asyncio.sleep(3600)\n"
        "asyncio.run(main())\n"
    )
    service = subprocess.Popen(
        [sys.executable, str(script)], stdout=subprocess.PIPE, env={**os.environ, "PYTHONPATH": python_path()}
    )
    try:
        assert service.stdout is not None
        cluster = psutil.Process(int(service.stdout.readline()))
        processes = [cluster, *wait_for(lambda: cluster.children(recursive=True), scaled(60), "the worker process")]
    finally:
        service.kill()
        service.wait()
        if service.stdout is not None:
            service.stdout.close()
    wait_for(lambda: not any(p.is_running() for p in processes), scaled(60), "the cluster's processes to end")


def test_a_server_whose_cluster_process_was_killed_stops_rather_than_leave_jobs_waiting(tmp_path: Path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": python_path(), "DPR_STORAGE_URL": "memory://", "DPR_SERVER_GRACE_PERIOD": "5"}
    env |= {"DPR_EXECUTOR_WORKERS": "1"}
    log_path = tmp_path / "serve.log"
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "dpr", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        ready = lambda: httpx.get(f"http://127.0.0.1:{port}/health/ready", timeout=5).status_code == 200  # noqa: E731
        wait_for(ready, scaled(120), "the embedded cluster to be up", ignoring=(httpx.TransportError,))
        cluster = next(p for p in psutil.Process(server.pid).children() if "cluster_process" in " ".join(p.cmdline()))
        cluster.kill()
        wait_for(lambda: server.poll() is not None, scaled(120), "the server to stop")
    finally:
        if server.poll() is None:
            server.kill()
            server.wait()
    assert "the embedded dask cluster's process ended" in log_path.read_text()
