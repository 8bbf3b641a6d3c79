"""The original client as users run it: PyPI's rs-client-libraries 0.2 (``DprClient``) against a
real ``dpr serve`` process configured by an rs-dpr-service ``geoapi.yaml``.

The client lives in its own virtualenv (its pins clash with dpr's), built once per version under
``.cache/`` and reused; a driver script runs in it and reports what it saw as JSON.
"""

from __future__ import annotations

import ast
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.server import ROOT, running_server

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

VERSION = "0.2"
# rs_common imports these two instrumentations but the 0.2 wheel does not declare them
REQUIREMENTS = [
    f"rs-client-libraries=={VERSION}",
    "opentelemetry-instrumentation-asyncio==0.57b0",
    "opentelemetry-instrumentation-requests==0.57b0",
]
VENV = ROOT / ".cache" / f"rs-client-libraries-{VERSION}"
DRIVER = Path(__file__).with_name("rs_client_driver.py")
GEOAPI = """\
server:
  url: http://localhost:8000
  bind: {host: 0.0.0.0, port: 8000}
logging: {level: INFO}
metadata:
  identification: {title: DPR service, description: A service to start the dpr processor.}
manager:
  name: PostgreSQL
  connection: {host: $POSTGRES_HOST, port: $POSTGRES_PORT, database: $POSTGRES_DB,
               user: $POSTGRES_USER, password: $POSTGRES_PASSWORD}
  output_dir: /tmp
resources:
  mockup: {type: process, processor: {name: mockup}}
  s1_l0: {type: process, processor: {name: "tests.eopf_standin:EopfStandIn"}}
  conv_safe_zarr: {type: process, processor: {name: "tests.eopf_standin:ConversionStandIn"}}
  s3_l0: {type: process, processor: {name: s3_l0}}
  echo: {type: process, processor: {name: echo}}
"""
ENV = {
    "POSTGRES_HOST": "db.example",
    "POSTGRES_PORT": "5432",
    "POSTGRES_DB": "dpr",
    "POSTGRES_USER": "dpr",
    "POSTGRES_PASSWORD": "secret",
    "DPR_STORAGE_URL": "memory://",  # DPR_* beats the file: keep this test off any database
    "DPR_EXECUTOR_KIND": "fake",
    "DPR_ENABLED_PROCESSORS": "mockup,tests.eopf_standin:EopfStandIn,tests.eopf_standin:ConversionStandIn,s3_l0",
}


@pytest.fixture(scope="session")
def client_python() -> Path:
    """The Python of a virtualenv with the client installed (built on first use)."""
    python, stamp = VENV / "bin" / "python", VENV / ".installed"
    if stamp.exists() and stamp.read_text() == "\n".join(REQUIREMENTS):
        return python
    shutil.rmtree(VENV, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *REQUIREMENTS]
        subprocess.run(pip, check=True, capture_output=True, text=True, timeout=780)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        reason = f"rs-client-libraries {VERSION} cannot be installed: {e}\n{getattr(e, 'stderr', '') or ''}"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    stamp.write_text("\n".join(REQUIREMENTS))
    return python


@pytest.fixture(scope="module")
def seen(client_python: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """What the driver saw, talking to a dpr server started from a geoapi.yaml."""
    folder = tmp_path_factory.mktemp("rs-client")
    config = folder / "geoapi.yaml"
    config.write_text(GEOAPI)
    with running_server("--config", str(config), env=ENV) as url:
        env = {
            **os.environ,
            "RSPY_HOST_DPR_SERVICE": url,
            "PREFECT_HOME": str(folder / "prefect"),
            "OTEL_SDK_DISABLED": "true",
        }
        done = subprocess.run(
            [str(client_python), str(DRIVER)], env=env, capture_output=True, text=True, timeout=300, cwd=folder
        )
    assert done.returncode == 0, f"the driver failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout)


def test_the_geoapi_resources_enabled_by_processor_name_are_the_processes(seen):
    ids = [p["id"] for p in seen["processes"]["processes"]]
    assert ids == ["mockup", "s1_l0", "conv_safe_zarr"]  # echo not enabled; s3_l0 has no processor yet


def test_a_process_is_described_by_its_task_table_or_its_ogc_description(seen):
    assert seen["task_table"]["tasktable"]["name"] == "stand-in-processor"
    assert seen["mockup"]["id"] == "mockup" and "duration" in seen["mockup"]["inputs"]


def test_an_execution_without_cluster_fields_runs_and_its_results_parse_back_from_the_message(seen):
    assert seen["submitted"]["processID"] == "s1_l0" and seen["submitted"]["status"] in (
        "accepted",
        "running",
        "successful",
    )
    products = [{"path": "s3://rs-bucket/config/run-1/output/S01SEWRAW.zarr", "payload": "payload.yaml"}]
    assert seen["result"] == {"products": products}
    assert seen["results"] == {"products": products}
    assert seen["conversion"] == {"zarr": "s3://rs-bucket/zarr/S1A_IW_RAW.zarr"}


def test_a_failed_job_is_reported_as_failed_by_the_client(seen):
    assert "RuntimeError" in seen["failure"]["error"] and "FAILED" in seen["failure"]["error"]


def test_deleting_a_job_dismisses_it_and_it_stays_dismissed(seen):
    assert seen["dismissed"]["status"] == "dismissed"
    assert seen["after_dismiss"]["status"] == "dismissed"


def test_the_job_list_holds_every_job_with_literal_messages_for_the_successful(seen):
    jobs = seen["jobs"]["jobs"]
    assert {j["processID"] for j in jobs} == {"s1_l0", "conv_safe_zarr", "mockup"} and len(jobs) == 4
    for job in jobs:
        if job["status"] == "successful":
            assert isinstance(ast.literal_eval(job["message"]), dict)


def test_unknown_jobs_and_processes_answer_the_original_error_document(seen):
    for key, word in (("unknown_job", "no-such-job"), ("unknown_process", "no-such-process")):
        assert seen[key]["status"] == 404 and seen[key]["type"].endswith("/404") and word in seen[key]["detail"]


def test_the_client_in_cluster_mode_sends_its_api_key_and_is_served(seen):
    assert seen["keyed"] == "successful"


@pytest.fixture(scope="module")
def seen_with_a_key(client_python: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    """What the driver saw in cluster mode with a real API key, against a server requiring keys."""
    folder = tmp_path_factory.mktemp("rs-client-keyed")
    env = {
        **ENV,
        "DPR_STORAGE_URL": f"sqlite+aiosqlite:///{folder / 'dpr.db'}",
        "DPR_AUTH_METHODS": "api_key",
        "DPR_ENABLED_PROCESSORS": "mockup",
    }
    made = subprocess.run(
        [sys.executable, "-m", "dpr", "keys", "create", "--owner", "rs-client", "--json"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert made.returncode == 0, made.stderr
    key = json.loads(made.stdout)["key"]
    with running_server(env=env) as url:
        driver_env = {
            **os.environ,
            "RSPY_HOST_DPR_SERVICE": url,
            "DPR_TEST_API_KEY": key,
            "PREFECT_HOME": str(folder / "prefect"),
            "OTEL_SDK_DISABLED": "true",
        }
        done = subprocess.run(
            [str(client_python), str(DRIVER)], env=driver_env, capture_output=True, text=True, timeout=300, cwd=folder
        )
    assert done.returncode == 0, f"the driver failed:\n{done.stderr[-4000:]}"
    return json.loads(done.stdout), key


def test_the_client_with_an_api_key_runs_and_lists_its_jobs_on_a_server_requiring_keys(seen_with_a_key):
    seen, key = seen_with_a_key
    assert [p["id"] for p in seen["processes"]["processes"]] == ["mockup"]
    assert [j["processID"] for j in seen["jobs"]["jobs"]] == ["mockup"]
    assert "401" in seen["wrong_key"]["error"] or "nauthori" in seen["wrong_key"]["error"]
    assert key not in json.dumps(seen)
