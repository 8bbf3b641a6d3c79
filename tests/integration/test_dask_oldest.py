"""The oldest dask/distributed pyproject.toml allows, under the executor's tests.

Every other test runs on the newest release (a fresh install resolves to it). This one builds,
once, a virtualenv under ``.cache/`` holding only ``dask`` and ``distributed`` at the floor
``dask[distributed]>=`` names, with the test run's own packages behind them on the path, and
runs there the Dask executor's contract tests and the tests that cancel a job from an instance
that did not submit it (on a scheduler and on a Dask Gateway cluster). Raise the floor in
pyproject.toml and this test follows.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

from tests.integration.server import ROOT, python_path

pytestmark = [pytest.mark.integration, pytest.mark.slow]

# The tests run there: the executor's contract (its Dask half), and cancelling from elsewhere.
CONTRACT = ["tests/contract/test_executor.py", "-k", "dask"]
ELSEWHERE = [
    "tests/integration/test_dask_cluster.py::test_an_executor_that_never_saw_a_job_cancels_it_on_the_scheduler",
    "tests/integration/test_dask_cluster.py::test_a_second_instance_dismisses_a_running_job_and_its_subprocess_ends",
    "tests/integration/test_dask_gateway.py::test_an_instance_that_never_reached_the_requests_cluster_dismisses_its_job_there",
]


def floor() -> str:
    """The lowest ``dask[distributed]`` version pyproject.toml allows."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    for requirement in project["dependencies"]:
        if found := re.fullmatch(r"dask\[distributed\]>=([\w.]+)", requirement.replace(" ", "")):
            return found.group(1)
    raise AssertionError("pyproject.toml names no dask[distributed]>= floor")


def exact(version: str) -> str:
    """``2024.8`` as released: ``2024.8.0`` (pip's ``==2024.8`` matches it too)."""
    return version if version.count(".") >= 2 else f"{version}.0"


def unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def oldest() -> Path:
    """The python of a virtualenv with dask and distributed at the floor (built on first use)."""
    version = exact(floor())
    venv = ROOT / ".cache" / f"dask-{version}"
    python, stamp = venv / "bin" / "python", venv / ".installed"
    behind = sysconfig.get_paths()["purelib"]  # this run's packages, after the venv's own
    if stamp.exists() and stamp.read_text() == f"{version} {behind}":
        return link_services(python)
    shutil.rmtree(venv, ignore_errors=True)
    try:
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, capture_output=True, timeout=300)
        # Installed before the run's packages are put behind them, so pip sees none installed.
        pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-deps"]
        wanted = [f"dask=={version}", f"distributed=={version}"]
        subprocess.run([*pip, *wanted], check=True, capture_output=True, text=True, timeout=600)
        where = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
        own = Path(subprocess.check_output([str(python), "-c", where], text=True).strip())
        (own / "zz-test-run-packages.pth").write_text(behind + "\n")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        unavailable(f"dask {version} cannot be installed: {e}\n{getattr(e, 'stderr', '') or ''}")
    stamp.write_text(f"{version} {behind}")
    return link_services(python)


def link_services(python: Path) -> Path:
    """Let the gateway test find its hub and gateway server beside ``python``, as they are in
    the test run's environment (they run there; the schedulers and workers the gateway starts
    from beside ``python`` are the oldest dask)."""
    for tool in ("jupyterhub", "dask-gateway-server"):
        link, found = python.with_name(tool), Path(sys.executable).with_name(tool)
        if found.exists() and not link.exists():
            link.symlink_to(found)
    return python


def run_tests(python: Path, *args: str) -> str:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), python_path()])}
    done = subprocess.run(
        [str(python), "-m", "pytest", "-p", "no:cacheprovider", "-q", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-3000:]
    return done.stdout


def test_the_oldest_dask_allowed_is_the_one_installed_there(oldest):
    check = "import dask, distributed; print(dask.__version__, distributed.__version__)"
    found = subprocess.check_output([str(oldest), "-c", check], text=True, cwd=ROOT).split()
    assert found == [exact(floor())] * 2


def test_the_executor_contract_holds_on_the_oldest_dask_allowed(oldest):
    out = run_tests(oldest, *CONTRACT)
    assert re.search(r"\d+ passed", out) and " skipped" not in out, out[-2000:]


def test_an_instance_that_did_not_submit_a_job_cancels_it_on_the_oldest_dask_allowed(oldest):
    out = run_tests(oldest, *ELSEWHERE)
    assert f"{len(ELSEWHERE)} passed" in out and " skipped" not in out, out[-2000:]
