"""EOPF processors with the real EOPF, end to end.

A session fixture builds the EOPF environment the processors run ``eopf`` from: a Python 3.13
virtualenv with ``eopf[parallel]==3.0.0`` and ``scipy`` under ``.cache/`` (reused while it
imports fine). dpr is installed in it too, because the Dask cluster of these tests runs its
scheduler and workers from it, as rs-dpr-service's clusters ran in the EOPF image: EOPF attaches
to the cluster its job runs on and its tasks run on the same workers. The payloads need no
satellite data: ``EOImageGeneratorUnit`` synthesises a product, written as Zarr. S3 is a real
S3-compatible server (moto's) on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from dpr.adapters.clock import UuidIdGenerator
from dpr.adapters.config import load_settings
from dpr.adapters.dask import DaskExecutor, SchedulerSource, WorkerTuning
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import LocationSettings, ProcessDefinition, ProcessSettings, SecuritySettings, Settings
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from dpr.entrypoints.container import build_container
from dpr.entrypoints.http.app import create_app
from tests.builders import execute_body
from tests.integration.eopf_fixtures import (
    KEY_ID,
    ROOT,
    SECRET,
    S3Server,
    alive,
    eopf_environment,
    generator_payload,
    s3_env,
    start_cluster,
)
from tests.integration.test_cli import dpr
from tests.services import Services, ephemeral, wire
from tests.waiting import async_wait_for, wait_for

TERMINAL = ("successful", "failed", "dismissed")
pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
    pytest.mark.timeout(1800),  # the first test also builds the EOPF environment (a few minutes, once)
    # The service (dpr's Python 3.11) talks to a cluster running EOPF's Python 3.13: Dask says so.
    pytest.mark.filterwarnings("ignore::distributed.versions.VersionMismatchWarning"),
]
ASYNC = Preference(respond_async=True)
TUNING = WorkerTuning(flush_interval=0.1, cancel_poll=0.1, cancel_grace=3)
S3_NAMES = ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_ENDPOINT_URL_S3", "AWS_DEFAULT_REGION"]


@pytest.fixture(scope="session")
def eopf_venv() -> Path:
    return eopf_environment()


@pytest.fixture(scope="module")
def s3() -> Iterator[S3Server]:
    server = S3Server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def cluster(eopf_venv: Path, s3: S3Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A scheduler and a two-thread worker run from the EOPF environment; the worker's
    environment holds the S3 credentials the process definitions name (configuration path)."""
    with start_cluster(eopf_venv, tmp_path_factory.mktemp("cluster"), s3_env(s3)) as address:
        yield address


def definition(eopf_venv: Path, work_dir: Path, **options: object) -> ProcessDefinition:
    return ProcessDefinition(
        id="eopf_generator",
        processor="dpr.adapters.processors.eopf:EopfProcessor",
        env=S3_NAMES,
        options={"venv": str(eopf_venv), "work_dir": str(work_dir), "cancel_grace": 3, **options},
    )


TEMP_ROOTS = ["s3://", f"file://{tempfile.gettempdir()}"]
"""The tests' own folders (pytest's tmp_path) are a local root the location policy allows."""


def service(
    executor: object, *definitions: ProcessDefinition, s3_endpoint: str | None = None
) -> tuple[Services, InMemoryJobRepository, InMemoryJobLogStore]:
    """The services; ``s3_endpoint``: a payload may name that (local) S3 endpoint too."""
    repository, logs = InMemoryJobRepository(), InMemoryJobLogStore()
    allowed = LocationSettings(allow=[*TEMP_ROOTS, *([s3_endpoint] if s3_endpoint else [])])
    settings = Settings(processes=ProcessSettings(definitions=list(definitions)), locations=allowed)
    if s3_endpoint:
        settings = msgspec.structs.replace(settings, security=SecuritySettings(allow_internal_urls=True))
    jobs = wire(
        settings=ephemeral(settings),
        repository=repository,
        log_store=logs,
        executor=executor,
        ids=UuidIdGenerator(),
    )
    return jobs, repository, logs


async def lines(logs: InMemoryJobLogStore, job_id: str) -> list[str]:
    return [record.line for record in await logs.read(job_id, limit=100_000)]


async def until_line(logs: InMemoryJobLogStore, job_id: str, pattern: str, timeout: float = 120) -> re.Match[str]:

    async def found() -> re.Match[str] | None:
        return next((m for line in await lines(logs, job_id) if (m := re.search(pattern, line))), None)

    return await async_wait_for(found, timeout, f"a log line matching {pattern!r}", interval=0.2)


@pytest.mark.parametrize("warm", [False, True], ids=["new-eopf", "warm-eopf"])
async def test_a_payload_from_s3_runs_on_the_job_s_dask_cluster_and_writes_its_zarr_product(
    cluster, eopf_venv, s3, tmp_path, warm
):
    products = tmp_path / "products"
    s3.put_folder("dpr/config/run-1", {"payload.yaml": generator_payload(products / "generated.zarr")})
    jobs, _, logs = service(
        DaskExecutor(SchedulerSource(cluster), tuning=TUNING), definition(eopf_venv, tmp_path / "work", warm=warm)
    )
    await jobs.start()
    try:
        inputs = {
            "s3_config_dir": "s3://dpr/config/run-1",
            "payload_subpath": "payload.yaml",
            "s3_report_dir": "s3://dpr/reports/run-1",
        }
        job = (await jobs.submission.execute("eopf_generator", execute_body({"inputs": inputs}), ASYNC)).job
        done = await jobs.queries.wait(job.job_id, 240)
        seen = await lines(logs, job.job_id)
        assert done.status is JobStatus.SUCCESSFUL, (done.error, seen[-40:])
    finally:
        await jobs.close()
    assert done.results == {
        "products": [
            {"id": "generated", "path": str(products / "generated.zarr"), "engine": "cpm_zarr", "unit": "generator"}
        ],
        "reports": "s3://dpr/reports/run-1",
    }
    assert (products / "generated.zarr" / "zarr.json").is_file() and any(
        (products / "generated.zarr").rglob("zarr.json")
    )
    text = "\n".join(seen)
    assert any(line.startswith("running payload payload.yaml (") for line in seen)
    assert '"cluster_type"' not in text and "cluster_type:" not in text, "the payload's content is not logged"
    assert f"Dask Client : <Client: '{cluster}'" in text, "EOPF attached to that cluster"
    assert f"EOPF computes on the job's Dask cluster {cluster}" in seen
    assert "Workflow progress: 100% - workflow completed" in text and done.progress == 100
    assert any("running unit 1/1: generator" in line for line in seen)
    records = [r for r in await logs.read(job.job_id, limit=100_000) if r.line.startswith("eopf.triggering.workflow:")]
    assert records and {r.level for r in records} == {"INFO"}, "EOPF's own level, no second timestamp"
    assert "payload.processor.log" in s3.listing("dpr/reports/run-1")
    assert not list((tmp_path / "work").iterdir()), "the run's private folder is removed"


@pytest.mark.parametrize("warm", [False, True], ids=["new-eopf", "warm-eopf"])
async def test_a_dismissed_run_stops_and_its_eopf_process_is_gone(cluster, eopf_venv, s3, tmp_path, warm):
    s3.put_folder("dpr/config/long", {"payload.yaml": generator_payload(tmp_path / "long.zarr", wait_before_exit=600)})
    jobs, _, logs = service(
        DaskExecutor(SchedulerSource(cluster), tuning=TUNING), definition(eopf_venv, tmp_path / "work", warm=warm)
    )
    await jobs.start()
    try:
        inputs = {"s3_config_dir": "s3://dpr/config/long", "payload_subpath": "payload.yaml"}
        job = (await jobs.submission.execute("eopf_generator", execute_body({"inputs": inputs}), ASYNC)).job
        pid = int((await until_line(logs, job.job_id, r"started eopf.* \(pid (\d+)\)")).group(1))
        await until_line(logs, job.job_id, r"Sleeping for 600")
        assert alive(pid)
        assert (await jobs.dismissal.dismiss(job.job_id)).status is JobStatus.DISMISSED
        deadline = time.monotonic() + 15
        while alive(pid) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not alive(pid), "the eopf process was stopped"
        deadline = time.monotonic() + 15
        while list((tmp_path / "work").iterdir()) and time.monotonic() < deadline:
            await asyncio.sleep(0.1)
        assert not list((tmp_path / "work").iterdir()), "the run's private folder is removed"
        assert (await jobs.queries.status(job.job_id)).status is JobStatus.DISMISSED
    finally:
        await jobs.close()


async def test_per_run_s3_keys_reach_the_run_but_no_log_line_job_record_or_result(eopf_venv, s3, tmp_path, monkeypatch):
    """The in-process executor: EOPF runs without a Dask cluster. The keys come as per-run
    secrets; the payload also carries them (storage options), as EOPF payloads often do."""
    for name in S3_NAMES:
        monkeypatch.delenv(name, raising=False)
    payload = generator_payload(
        tmp_path / "secret.zarr",
        storage_options={"key": KEY_ID, "secret": SECRET, "client_kwargs": {"endpoint_url": s3.endpoint}},
    )
    s3.put_folder("dpr/config/secret", {"payload.yaml": payload})
    jobs, repository, logs = service(FakeExecutor(), definition(eopf_venv, tmp_path / "work"), s3_endpoint=s3.endpoint)
    await jobs.start()
    try:
        inputs = {
            "s3_config_dir": "s3://dpr/config/secret",
            "payload_subpath": "payload.yaml",
            "s3_report_dir": "s3://dpr/reports/secret",
        }
        job = (
            await jobs.submission.execute("eopf_generator", execute_body({"inputs": inputs}), ASYNC, secrets=s3_env(s3))
        ).job
        done = await jobs.queries.wait(job.job_id, 240)
        seen = await lines(logs, job.job_id)
        assert done.status is JobStatus.SUCCESSFUL, (done.error, seen[-40:])
        record = msgspec.json.encode(await repository.get(job.job_id)).decode()
    finally:
        await jobs.close()
    assert "payload.processor.log" in s3.listing("dpr/reports/secret"), "the keys reached the run: it read and wrote S3"
    for secret in (KEY_ID, SECRET):
        assert not [line for line in seen if secret in line]
        assert secret not in record and secret not in str(done.results)
        assert secret not in s3.read("dpr/reports/secret/payload.processor.log")
    assert not [line for line in seen if "storage_options" in line], "the payload's content is not logged"
    assert "EOPF computes on no Dask cluster (the job does not run on a Dask cluster)" in seen


def test_the_dpr_route_runs_an_eopf_payload_with_configured_s3_keys_and_answers_without_them(
    eopf_venv, s3, tmp_path, monkeypatch
):
    for name, value in s3_env(s3).items():
        monkeypatch.setenv(name, value)  # the worker's environment: here the server's own process
    s3.put_folder("dpr/config/http", {"payload.yaml": generator_payload(tmp_path / "http.zarr")})
    settings = Settings(
        processes=ProcessSettings(definitions=[definition(eopf_venv, tmp_path / "work")]),
        locations=LocationSettings(allow=TEMP_ROOTS),  # the payload writes under tmp_path
    )
    container = build_container(settings)
    container.executor.override(providers.Object(FakeExecutor()))
    body = {
        "s3_config_dir": "s3://dpr/config/http",
        "payload_subpath": "payload.yaml",
        "s3_report_dir": "s3://dpr/reports/http",
        "jupyter_token": None,
        "cluster_label": None,
    }
    with TestClient(create_app(container=container), base_url="http://dpr.test") as client:
        created = client.post("/dpr/processes/eopf_generator/execution", json=body)
        assert created.status_code == 201, created.text
        job_id = created.json()["jobID"]
        status = wait_for(
            lambda: (doc := client.get(f"/dpr/jobs/{job_id}").json())["status"] in TERMINAL and doc,
            240,
            "the EOPF job to end",
            interval=0.5,
        )
        answers = [
            created.text,
            client.get(f"/dpr/jobs/{job_id}").text,
            client.get(f"/dpr/jobs/{job_id}/results").text,
            client.get(f"/jobs/{job_id}/logs").text,
            client.get("/dpr/processes/eopf_generator").text,
        ]
    assert status["status"] == "successful", answers[3][-3000:]
    assert str(tmp_path / "http.zarr") in answers[2]
    assert "Workflow progress: 100% - workflow completed" in answers[3]
    for secret in (KEY_ID, SECRET):
        assert all(secret not in answer for answer in answers)


def test_an_eopf_process_without_its_environment_is_listed_and_its_jobs_fail_at_once(tmp_path):
    absent = ProcessDefinition(
        id="s1_l0",
        processor="dpr.adapters.processors.eopf:EopfProcessor",
        options={"venv": str(tmp_path / "none"), "task_table": "s1_l0"},
    )
    settings = Settings(processes=ProcessSettings(definitions=[absent]))
    container = build_container(settings)
    container.executor.override(providers.Object(FakeExecutor()))
    with TestClient(create_app(container=container), base_url="http://dpr.test") as client:
        assert client.get("/dpr/processes/s1_l0").json()["tasktable"]["name"] == "s1-l0"
        assert (
            "Not available: EOPF is not installed on this server"
            in client.get("/processes/s1_l0").json()["description"]
        )
        job_id = client.post(
            "/dpr/processes/s1_l0/execution", json={"s3_config_dir": "s3://b/c", "payload_subpath": "p.yaml"}
        ).json()["jobID"]
        status = wait_for(
            lambda: (doc := client.get(f"/jobs/{job_id}").json())["status"] == "failed" and doc, 30, "the job to fail"
        )
    assert status["status"] == "failed"
    assert "EOPF is not available on this worker: EOPF is not installed" in status["message"]
    assert str(tmp_path) not in status["message"]
    assert "Traceback" not in status["message"]


def test_eopf_check_says_which_processes_the_installed_environment_can_run(eopf_venv, tmp_path):
    config = tmp_path / "dpr.yaml"
    config.write_text(
        "processes:\n  definitions:\n"
        "    - {id: generator, processor: 'dpr.adapters.processors.eopf:EopfProcessor',"
        " options: {venv: '${DPR_EOPF_VENV}', modules: [eopf.computing.utils]}}\n"
        "    - {id: s1_l0, processor: 'dpr.adapters.processors.eopf:EopfProcessor',"
        " options: {venv: '${DPR_EOPF_VENV}', task_table: s1_l0}}\n"
    )
    done = dpr("eopf", "check", "--json", "-c", str(config), "--venv", str(eopf_venv))
    report = json.loads(done.stdout)
    assert done.returncode == 1 and report["environment"]["ready"] is True and report["environment"]["eopf"] == "3.0.0"
    rows = {row["id"]: row for row in report["processes"]}
    assert rows["generator"] == {**rows["generator"], "available": True, "reason": None}
    assert rows["s1_l0"]["available"] is False and rows["s1_l0"]["reason"].startswith("l0.s1")
    again = dpr("eopf", "install", "--path", str(eopf_venv), "--json")
    assert json.loads(again.stdout)["built"] is False, "a complete environment is reused, not built again"


def shipped_eopf_process(eopf_venv: Path, work_dir: Path) -> ProcessDefinition:
    """The catalogue's generic ``eopf`` process, as config/dpr-processors.yaml defines it."""
    settings = load_settings(str(ROOT / "config" / "dpr-processors.yaml"), env={"DPR_EOPF_VENV": str(eopf_venv)})
    (generic,) = [d for d in settings.processes.definitions if d.id == "eopf"]
    return msgspec.structs.replace(generic, options={**generic.options, "work_dir": str(work_dir)})


async def test_the_catalogue_s_eopf_process_runs_the_shipped_example_payload(eopf_venv, tmp_path):
    example = tmp_path / "synthetic"
    shutil.copytree(ROOT / "examples" / "eopf" / "synthetic", example)
    text = (example / "payload.yaml").read_text()
    assert "/tmp/dpr-eopf-example/generated.zarr" in text
    (example / "payload.yaml").write_text(text.replace("/tmp/dpr-eopf-example", str(tmp_path / "out")))
    jobs, _, logs = service(FakeExecutor(), shipped_eopf_process(eopf_venv, tmp_path / "work"))
    await jobs.start()
    try:
        inputs = {
            "s3_config_dir": str(example),
            "payload_subpath": "payload.yaml",
            "s3_report_dir": str(tmp_path / "r"),
        }
        job = (await jobs.submission.execute("eopf", execute_body({"inputs": inputs}), ASYNC)).job
        done = await jobs.queries.wait(job.job_id, 240)
        seen = await lines(logs, job.job_id)
    finally:
        await jobs.close()
    assert done.status is JobStatus.SUCCESSFUL, (done.error, seen[-40:])
    assert done.results == {
        "products": [
            {
                "id": "generated",
                "path": str(tmp_path / "out" / "generated.zarr"),
                "engine": "cpm_zarr",
                "unit": "generator",
            }
        ],
        "reports": str(tmp_path / "r"),
    }
    assert done.progress == 100 and (tmp_path / "r" / "payload.processor.log").is_file()


async def test_a_payload_whose_units_are_not_installed_fails_before_eopf_starts_naming_their_package(
    eopf_venv, tmp_path
):
    payload = generator_payload(tmp_path / "never.zarr").replace("eopf.computing.utils", "dpr_absent_units.l1")
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "payload.yaml").write_text(payload)
    jobs, _, logs = service(FakeExecutor(), shipped_eopf_process(eopf_venv, tmp_path / "work"))
    await jobs.start()
    try:
        inputs = {"s3_config_dir": str(tmp_path / "config"), "payload_subpath": "payload.yaml"}
        job = (await jobs.submission.execute("eopf", execute_body({"inputs": inputs}), ASYNC)).job
        done = await jobs.queries.wait(job.job_id, 120)
        seen = await lines(logs, job.job_id)
    finally:
        await jobs.close()
    assert done.status is JobStatus.FAILED
    assert done.error == (
        "EOPF is not available on this worker: its EOPF processing units (dpr_absent_units) are not installed "
        "on this server"
    ), done.error
    assert not any(line.startswith("started eopf") for line in seen)
