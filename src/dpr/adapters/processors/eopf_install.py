"""Building the EOPF environment: a virtualenv with the pinned, tested EOPF and dpr's worker side.

EOPF 3 needs Python >= 3.13, which is often not the interpreter dpr runs on: the candidates are
an explicit one, those on PATH and pyenv's versions, each run once to see that it works (a pyenv
shim for a version that is not selected exits with an error). dpr itself goes in without its
dependencies (the server's) plus the few its Dask workers import, so the environment can run the
cluster's workers as well as ``eopf``.
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

import msgspec

import dpr

EOPF_VERSION = "3.0.0"
MIN_PYTHON = (3, 13)
# What the tested processors need: EOPF with its Dask extra, and scipy for its image units.
EOPF_REQUIREMENTS = (f"eopf[parallel]=={EOPF_VERSION}", "scipy")
# What dpr's Dask workers import beyond what EOPF brings (dpr goes in without its server's packages).
WORKER_REQUIREMENTS = (
    "msgspec>=0.18",
    "pyyaml>=6",
    "s3fs>=2024.6",
    "dask-gateway>=2024.1",
    "opentelemetry-api>=1.25",
)
READY = ".dpr-ready"  # written last: a half-built environment is built again
LOG = "dpr-install.log"
_PROBE = "import sys; print('%d.%d.%d' % sys.version_info[:3])"
_VERIFY = (
    "import importlib.metadata as m, json, sys, dpr, dpr.adapters.dask.worker_side, eopf; "
    "print(json.dumps({'eopf': m.version('eopf'), 'dpr': dpr.__file__, 'python': sys.version.split()[0]}))"
)


class InstallError(Exception):
    """The environment cannot be built; the message says why and what to do."""


class Interpreter(msgspec.Struct, frozen=True, kw_only=True):
    """A Python interpreter tried for EOPF; ``problem`` is None when it can be used."""

    path: str
    version: str | None = None
    problem: str | None = None


class Installed(msgspec.Struct, frozen=True, kw_only=True):
    """A ready EOPF environment: ``venv`` is what ``DPR_EOPF_VENV`` should name."""

    venv: str
    python: str
    python_version: str
    eopf: str
    dpr: str
    requirements: list[str]
    built: bool
    seconds: float


def default_path() -> Path:
    """Where ``dpr eopf install`` builds when no ``--path`` is given."""
    data = os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share")
    return Path(data) / "dpr" / f"eopf-{EOPF_VERSION}"


def requirements() -> list[str]:
    return [*EOPF_REQUIREMENTS, *WORKER_REQUIREMENTS]


def candidates(explicit: str | None = None) -> list[str]:
    """Interpreters to try, best first: ``explicit`` alone if given, else PATH's versioned
    names, pyenv's versions (newest first), then PATH's ``python3``."""
    if explicit:
        return [shutil.which(explicit) or explicit]
    named = [shutil.which(f"python3.{minor}") for minor in range(20, MIN_PYTHON[1] - 1, -1)]
    pyenv = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = sorted(glob.glob(f"{pyenv}/versions/3.*/bin/python3"), key=_version_key, reverse=True)
    seen: list[str] = []
    for path in [*named, *found, shutil.which("python3")]:
        if path and path not in seen:
            seen.append(path)
    return seen


def probe(path: str) -> Interpreter:
    """Run ``path`` to learn its version; a shim that refuses to run has a ``problem``."""
    try:
        done = subprocess.run(
            [path, "-c", _PROBE], capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        return Interpreter(path=path, problem=f"cannot be run ({e.__class__.__name__})")
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return Interpreter(path=path, problem=f"exits with code {done.returncode}: {last}")
    version = done.stdout.strip()
    if tuple(int(p) for p in version.split(".")[:2]) < MIN_PYTHON:
        return Interpreter(path=path, version=version, problem=f"Python {version} is older than 3.13")
    return Interpreter(path=path, version=version)


def find_python(explicit: str | None = None) -> tuple[Interpreter, list[Interpreter]]:
    """The first working Python >= 3.13 and every interpreter tried; raises ``InstallError``
    listing them when none fits."""
    tried: list[Interpreter] = []
    for path in candidates(explicit):
        interpreter = probe(path)
        if interpreter.problem is None:
            return interpreter, [*tried, interpreter]
        tried.append(interpreter)
    lines = "\n".join(f"  {i.path}: {i.problem}" for i in tried) or "  (none found on PATH or under ~/.pyenv)"
    raise InstallError(
        f"no working Python >= 3.13 (EOPF {EOPF_VERSION} needs it). Tried:\n{lines}\n"
        "Install one (for example `pyenv install 3.13`) or give it with --python PATH."
    )


def installed(venv: Path) -> Installed | None:
    """The environment at ``venv`` if it was completely built with today's requirements."""
    marker = venv / READY
    if not marker.is_file() or marker.read_text().split() != requirements():
        return None
    return verify(venv, built=False, seconds=0.0)


def verify(venv: Path, *, built: bool, seconds: float) -> Installed | None:
    """Ask the environment's interpreter for EOPF and dpr (its worker side); None if it fails."""
    python = venv / "bin" / "python"
    try:
        done = subprocess.run(
            [str(python), "-c", _VERIFY], capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL
        )
        found = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else None
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        found = None
    if not found or found["eopf"] != EOPF_VERSION:
        return None
    return Installed(
        venv=str(venv),
        python=str(python),
        python_version=found["python"],
        eopf=found["eopf"],
        dpr=str(Path(found["dpr"]).parent),
        requirements=requirements(),
        built=built,
        seconds=round(seconds, 1),
    )


def build(venv: Path, python: Interpreter, say: Callable[[str], None]) -> Installed:
    """Build the environment at ``venv`` from scratch (what was there is removed); ``say``
    gets one line per step. pip's output goes to ``venv/dpr-install.log``."""
    started = time.monotonic()
    shutil.rmtree(venv, ignore_errors=True)
    venv.parent.mkdir(parents=True, exist_ok=True)
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet"]
    steps = [
        (
            f"creating the virtualenv with Python {python.version} ({python.path})",
            [python.path, "-m", "venv", str(venv)],
        ),
        # the installer's own tools first, as the Makefile does for dpr's venv (known fixes)
        ("upgrading pip and setuptools", [*pip, "--upgrade", "pip", "setuptools"]),
        (f"installing EOPF {EOPF_VERSION} and dpr's worker packages", [*pip, *requirements()]),
        (f"installing dpr's worker side ({_source()})", [*pip, "--no-deps", *_dpr_argument()]),
    ]
    log = venv.parent / f".{venv.name}.log"  # beside: the folder is removed and made anew
    with log.open("w") as out:
        for number, (what, argv) in enumerate(steps, 1):
            say(f"[{number}/{len(steps)}] {what}")
            step_started = time.monotonic()
            _run(argv, out, log, what)
            say(f"      done in {time.monotonic() - step_started:.0f} s")
    shutil.move(log, venv / LOG)
    result = verify(venv, built=True, seconds=time.monotonic() - started)
    if result is None:
        raise InstallError(f"{venv} was built but its Python does not import eopf {EOPF_VERSION} and dpr")
    (venv / READY).write_text(" ".join(requirements()) + "\n")
    return result


def _run(argv: list[str], out: IO[str], log: Path, what: str) -> None:
    try:
        code = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL).returncode
    except OSError as e:
        raise InstallError(f"{what} failed: {e}") from None
    if code:
        tail = log.read_text(errors="replace")[-2000:]
        raise InstallError(f"{what} failed (exit code {code}); pip's output is in {log}:\n{tail}")


def _source() -> str:
    root = _project_root()
    return f"editable, from {root}" if root else f"a copy of {Path(dpr.__file__).parent}"


def _project_root() -> Path | None:
    """The source checkout dpr runs from (``src/dpr`` under a pyproject.toml), if any."""
    package = Path(dpr.__file__).resolve().parent
    root = package.parent.parent
    return root if package.parent.name == "src" and (root / "pyproject.toml").is_file() else None


def _dpr_argument() -> list[str]:
    """pip's argument for dpr: the checkout, editable (workers see code changes), else the
    folder pip can build from next to the installed package."""
    root = _project_root()
    if root is not None:
        return ["-e", str(root)]
    return [_sdist_folder()]


def _sdist_folder() -> str:
    """A minimal project folder holding a copy of the installed ``dpr`` package."""
    folder = Path(tempfile.mkdtemp(prefix="dpr-worker-"))
    shutil.copytree(Path(dpr.__file__).parent, folder / "src" / "dpr", ignore=shutil.ignore_patterns("__pycache__"))
    (folder / "pyproject.toml").write_text(
        f'[project]\nname = "dpr"\nversion = "{dpr.__version__}"\n[tool.setuptools.packages.find]\n'
        "where = ['src']\n[tool.setuptools.package-data]\ndpr = ['**/*']\n"
    )
    return str(folder)


def _version_key(path: str) -> tuple[int, ...]:
    name = Path(path).parent.parent.name
    return tuple(int(p) if p.isdigit() else -1 for p in name.split(".")[:3])
