"""cuiman 0.3 (the Eozilla suite's OGC API - Processes client, from the package index) runs its
whole command-line flow against a real ``dpr serve`` process.

cuiman executes without a ``Prefer`` header and expects a job (so the processes it runs must be
async-only, as mockup is), and expects a results document for a job whose request named no
``response`` (the Processes 2.0 rule): the server runs with ``ogc.response_default=document``.
It runs against an anonymous server, and against one requiring credentials: an API key
(``--auth-type api-key``) or an OpenID Connect access token of a small issuer on 127.0.0.1
(``--auth-type token``, sent as a bearer token), the secret given in cuiman's environment
variables (``EOZILLA_AUTH__...``) as a headless client would, not in its configuration file.

It needs Python >= 3.12, so it lives in its own virtualenv built from pyenv's (or
``DPR_PYTHON312``) once per version under ``.cache/`` and reused.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server import ROOT, keyed_server, running_server
from tests.oidc_issuer import AUDIENCE, OidcIssuer, SigningKey, running_issuer

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(900)]

# The versions this test was run with (cuiman 0.3.1 brings gavicore 0.3.0).
REQUIREMENTS = ["cuiman==0.3.1", "gavicore==0.3.0"]
VENV = ROOT / ".cache" / "cuiman-0.3.1"


def python312() -> str | None:
    """A working Python >= 3.12: ``DPR_PYTHON312``, pyenv's 3.12 or 3.13, or one on PATH."""
    candidates = [
        os.environ.get("DPR_PYTHON312"),
        *sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.1[23]*/bin/python3.1[23]"))),
        shutil.which("python3.12"),
        shutil.which("python3.13"),
    ]
    check = "import sys; assert sys.version_info >= (3, 12)"
    for c in candidates:
        if c and subprocess.run([c, "-c", check], capture_output=True, timeout=30, check=False).returncode == 0:
            return c
    return None


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def cuiman() -> Path:
    """The ``cuiman`` executable of a virtualenv with the pinned client (built on first use)."""
    executable, stamp = VENV / "bin" / "cuiman", VENV / ".installed"
    if stamp.exists() and stamp.read_text() == "\n".join(REQUIREMENTS):
        return executable
    python = python312()
    if python is None:
        unavailable("cuiman needs Python >= 3.12: set DPR_PYTHON312 or install python3.12")
    shutil.rmtree(VENV, ignore_errors=True)
    try:
        subprocess.run([str(python), "-m", "venv", str(VENV)], check=True, capture_output=True, timeout=300)
        pip = [str(VENV / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        subprocess.run([*pip, *REQUIREMENTS], check=True, capture_output=True, text=True, timeout=780)
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        unavailable(f"cuiman cannot be installed: {e}\n{getattr(e, 'stderr', '') or ''}")
    stamp.write_text("\n".join(REQUIREMENTS))
    return executable


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--ephemeral", env={"DPR_OGC_RESPONSE_DEFAULT": "document"}) as url:
        yield url


class Cuiman:
    """Runs cuiman commands with their own home and configuration file."""

    def __init__(self, executable: Path, home: Path, env: dict[str, str] | None = None) -> None:
        self.executable, self.home, self.config = executable, home, home / "cuiman.yaml"
        self.env = env or {}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "HOME": str(self.home), "COLUMNS": "200", "NO_COLOR": "1", **self.env}
        return subprocess.run(
            [str(self.executable), *args], capture_output=True, text=True, timeout=120, env=env, cwd=self.home
        )

    def json(self, *args: str) -> dict:
        done = self.run(*args, "-c", str(self.config), "-f", "json")
        assert done.returncode == 0, f"cuiman {' '.join(args)} exited {done.returncode}:\n{done.stdout}{done.stderr}"
        return json.loads(done.stdout)

    def job_when(self, job_id: str, *statuses: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while (job := self.json("get-job", job_id))["status"] not in statuses and time.monotonic() < deadline:
            time.sleep(0.2)
        assert job["status"] in statuses, job
        return job


@pytest.fixture
def client(cuiman: Path, server: str, tmp_path: Path) -> Cuiman:
    c = Cuiman(cuiman, tmp_path)
    done = c.run("configure", "--api-url", server, "--auth-type", "none", "-c", str(c.config))
    assert done.returncode == 0 and c.config.exists(), done.stdout + done.stderr
    return c


def test_cuiman_lists_and_describes_processes_and_builds_and_checks_a_request(client: Cuiman) -> None:
    assert {"echo", "mockup"} <= {p["id"] for p in client.json("list-processes")["processes"]}
    mockup = client.json("get-process", "mockup")
    assert mockup["jobControlOptions"] == ["async-execute", "dismiss"] and "products" in mockup["outputs"]
    template = client.json("create-request", "mockup")
    assert template["process_id"] == "mockup" and template["inputs"]["duration"] == 5
    (client.home / "request.json").write_text(json.dumps(template))
    done = client.run("validate-request", "-r", "request.json", "-i", "duration=0.2", "-f", "json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["inputs"]["duration"] == 0.2


def test_cuiman_executes_a_job_follows_it_fetches_its_results_and_dismisses_it(client: Cuiman) -> None:
    accepted = client.json("execute-process", "mockup", "-i", "duration=0.2", "-i", "product_type=S2MSI1C")
    job_id = accepted["jobID"]
    assert accepted["status"] in ("accepted", "running")
    assert job_id in [j["jobID"] for j in client.json("list-jobs")["jobs"]]
    client.job_when(job_id, "successful")
    results = client.json("get-job-results", job_id)
    assert results["products"][0]["type"] == "S2MSI1C"
    # DELETE of an ended job keeps its record and answers it as it stands (removing it takes
    # ?purge=true, which cuiman does not send): cuiman shows the job, and it is still there.
    assert client.json("dismiss-job", job_id)["status"] == "successful"
    assert client.json("get-job", job_id)["status"] == "successful"


def test_cuiman_dismisses_a_running_job_and_its_work_stops(client: Cuiman) -> None:
    job_id = client.json("execute-process", "mockup", "-i", "duration=60")["jobID"]
    client.job_when(job_id, "running")
    assert client.json("dismiss-job", job_id)["status"] == "dismissed"
    assert client.job_when(job_id, "dismissed")["message"]


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer(SigningKey("rsa-1")) as running:
        yield running


@pytest.fixture(scope="module")
def secured(issuer: OidcIssuer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    env = {
        "DPR_OGC_RESPONSE_DEFAULT": "document",
        "DPR_AUTH_METHODS": "api_key,oidc",
        "DPR_AUTH_OIDC_ISSUER": issuer.url,
        "DPR_AUTH_OIDC_AUDIENCE": AUDIENCE,
    }
    with keyed_server(tmp_path_factory.mktemp("cuiman-secured"), env=env) as (url, key):
        yield url, key


def configured(cuiman: Path, home: Path, url: str, env: dict[str, str], *auth: str) -> Cuiman:
    c = Cuiman(cuiman, home, env)
    done = c.run("configure", "--api-url", url, *auth, "-c", str(c.config))
    assert done.returncode == 0 and c.config.exists(), done.stdout + done.stderr
    return c


@pytest.mark.parametrize("auth", ["api-key", "token"])
def test_cuiman_with_an_api_key_or_a_bearer_token_runs_follows_and_lists_its_own_job(
    cuiman: Path, secured: tuple[str, str], issuer: OidcIssuer, tmp_path: Path, auth: str
) -> None:
    url, key = secured
    if auth == "api-key":
        options, env = ("--auth-type", "api-key", "--api-key-header", "x-api-key"), {"EOZILLA_AUTH__API_KEY": key}
    else:
        token = issuer.token(issuer.published[0], sub="cuiman-user")
        options, env = ("--auth-type", "token", "--access-token-header", ""), {"EOZILLA_AUTH__ACCESS_TOKEN": token}
    client = configured(cuiman, tmp_path, url, env, *options)
    job_id = client.json("execute-process", "mockup", "-i", "duration=0.2")["jobID"]
    client.job_when(job_id, "successful")
    assert [j["jobID"] for j in client.json("list-jobs")["jobs"]] == [job_id]
    assert list(env.values())[0] not in client.config.read_text()
    (tmp_path / "anonymous").mkdir()
    anonymous = configured(cuiman, tmp_path / "anonymous", url, {}, "--auth-type", "none")
    refused = anonymous.run("list-jobs", "-c", str(anonymous.config), "-f", "json")
    assert refused.returncode != 0 and "401" in refused.stdout + refused.stderr
