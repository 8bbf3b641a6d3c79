"""``dpr eopf install`` and ``dpr eopf check`` where no EOPF environment can be built or is there
(the EOPF tier, tests/integration/test_eopf.py, builds and checks a real one with them)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.integration.test_cli import dpr

pytestmark = pytest.mark.integration
CATALOGUE = Path(__file__).resolve().parents[2] / "config" / "dpr-processors.yaml"


def test_install_skips_a_python_shim_that_refuses_to_run_and_says_what_it_tried(tmp_path: Path) -> None:
    shims = tmp_path / "shims"
    shims.mkdir()
    shim = shims / "python3.13"
    shim.write_text("#!/bin/sh\necho 'pyenv: python3.13: command not found' >&2\nexit 127\n")
    shim.chmod(0o755)
    env = {"PATH": str(shims), "PYENV_ROOT": str(tmp_path / "no-pyenv"), "HOME": str(tmp_path)}
    done = dpr("eopf", "install", "--path", str(tmp_path / "venv"), env=env)
    assert done.returncode == 2, done.stderr
    assert f"{shim}: exits with code 127: pyenv: python3.13: command not found" in done.stderr
    assert "no working Python >= 3.13" in done.stderr and "--python PATH" in done.stderr
    assert not (tmp_path / "venv").exists(), "nothing is built without a fitting Python"


def test_install_refuses_an_older_python_given_with_python(tmp_path: Path) -> None:
    done = dpr("eopf", "install", "--path", str(tmp_path / "venv"), "--python", sys.executable)
    assert done.returncode == 2, done.stderr
    assert f"{sys.executable}: Python {sys.version.split()[0]} is older than 3.13" in done.stderr


def test_check_lists_every_catalogue_process_and_why_it_cannot_run(tmp_path: Path) -> None:
    missing = tmp_path / "no-eopf"
    done = dpr("eopf", "check", "--json", "--config", str(CATALOGUE), "--venv", str(missing))
    assert done.returncode == 1, done.stderr
    report = json.loads(done.stdout)
    assert report["environment"]["ready"] is False
    assert f"dpr eopf install --path {missing}" in report["environment"]["problem"]
    rows = {row["id"]: row for row in report["processes"]}
    assert rows["mockup"]["available"] is True and rows["mockup"]["reason"] is None
    assert set(rows) >= {"s1_l0", "s3_l0", "s1_ard", "s3_l1olci", "s3_l2olci", "conv_safe_zarr"}
    for pid in ("s1_l0", "conv_safe_zarr"):
        assert rows[pid]["available"] is False and str(missing / "bin" / "python") in rows[pid]["reason"]
    table = dpr("eopf", "check", "--config", str(CATALOGUE), "--venv", str(missing))
    assert table.returncode == 1 and "ok  mockup" in table.stdout and "no  s1_l0: " in table.stdout
