"""The EOPF environment a processor runs ``eopf`` from: its own interpreter or virtualenv.

EOPF 3 needs Python >= 3.13 and pulls in about a gigabyte of packages, so it lives in its own
virtualenv beside dpr's. dpr never imports it: it runs the environment's ``eopf`` command and
asks the environment's interpreter whether the modules a process needs are installed.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from dpr.domain.errors import ProcessorError

log = logging.getLogger(__name__)

CHECK_TIMEOUT = 60.0
# Run by the EOPF interpreter: finds modules without importing them (``import eopf`` takes seconds).
_CHECK = """
import importlib.metadata, importlib.util, json, sys
missing = []
for name in sys.argv[1:]:
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    if not found:
        missing.append(name)
try:
    version = importlib.metadata.version("eopf")
except importlib.metadata.PackageNotFoundError:
    version = None
print(json.dumps({"missing": missing, "eopf": version, "python": sys.version.split()[0]}))
"""
# The child's base environment: enough to run Python, nothing of the worker's own environment.
_BASE_ENV = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PYTHONIOENCODING": "utf-8"}
# The original service's S3 variables, and the names botocore/s3fs read, for the same things.
S3_ALIASES = {
    "S3_ACCESSKEY": "AWS_ACCESS_KEY_ID",
    "S3_SECRETKEY": "AWS_SECRET_ACCESS_KEY",
    "S3_ENDPOINT": "AWS_ENDPOINT_URL_S3",
    "S3_REGION": "AWS_DEFAULT_REGION",
}


class EopfEnvironment:
    """Where EOPF is installed: ``venv`` (a virtualenv folder) or ``python`` (its interpreter).

    Cheap to build: nothing is checked until ``problem`` or ``require`` is called.
    """

    def __init__(self, *, venv: str | None = None, python: str | None = None) -> None:
        if venv and python:
            raise ValueError("give the EOPF environment as option 'venv' or 'python', not both")
        self.python = str(Path(venv) / "bin" / "python") if venv else python
        self.bin = Path(self.python).parent if self.python else None

    def __repr__(self) -> str:
        return f"EopfEnvironment(python={self.python!r})"

    def command(self, *args: str) -> list[str]:
        """The ``eopf`` command line: the environment's console script, else its module."""
        assert self.python is not None and self.bin is not None
        script = self.bin / "eopf"
        if script.is_file():
            return [str(script), *args]
        return [self.python, "-c", "import sys; from eopf.cli.cli import eopf_cli; sys.exit(eopf_cli())", *args]

    def problem(self, modules: Sequence[str] = ()) -> str | None:
        """Why this environment cannot run EOPF with ``modules``, or None when it can."""
        if not self.python:
            return "no EOPF environment is configured (process option 'venv' or 'python')"
        return _problem(self.python, ("eopf", *modules))

    def public_problem(self, modules: Sequence[str] = ()) -> str | None:
        """``problem`` as a client may read it: no interpreter path or version. The full
        reason goes to the server's log (once per reason)."""
        reason = self.problem(modules)
        if reason is None:
            return None
        if reason not in _LOGGED:
            _LOGGED.add(reason)
            log.warning("EOPF cannot run: %s", reason)
        return "EOPF is not installed on this server" if self.python else "no EOPF environment is configured"

    def require(self, modules: Sequence[str] = ()) -> None:
        """Raise ``ProcessorError`` (a short message, no traceback) if EOPF cannot run here."""
        reason = self.public_problem(modules)
        if reason is not None:
            raise ProcessorError(f"EOPF is not available on this worker: {reason} (the server's log says why)")

    def child_env(self, allowed: Mapping[str, str], extra: Mapping[str, str], home: str) -> dict[str, str]:
        """The whole environment of an ``eopf`` run: a base, ``extra`` (from the process
        options) and ``allowed`` (the variables and secrets the run may see), nothing else."""
        assert self.bin is not None
        env = {**_BASE_ENV, "PATH": os.pathsep.join([str(self.bin), "/usr/local/bin", "/usr/bin", "/bin"])}
        env.update({"HOME": home, "TMPDIR": home, "VIRTUAL_ENV": str(self.bin.parent)})
        env.update(extra)
        env.update(allowed)
        for old, new in S3_ALIASES.items():
            if old in allowed and new not in allowed:
                env[new] = allowed[old]
        if "AWS_ENDPOINT_URL" in env:
            env.setdefault("AWS_ENDPOINT_URL_S3", env["AWS_ENDPOINT_URL"])
        # S3-compatible stores (and moto) reject the checksums newer botocore adds by default.
        env.setdefault("AWS_REQUEST_CHECKSUM_CALCULATION", "when_required")
        env.setdefault("AWS_RESPONSE_CHECKSUM_VALIDATION", "when_required")
        return env


_LOGGED: set[str] = set()
_READY: set[tuple[str, tuple[str, ...]]] = set()  # only successes are kept: a missing EOPF may be installed later


def _problem(python: str, modules: tuple[str, ...]) -> str | None:
    if (python, modules) in _READY:
        return None
    reason = _ask(python, modules)
    if reason is None:
        _READY.add((python, modules))
    return reason


def _ask(python: str, modules: tuple[str, ...]) -> str | None:
    if not os.access(python, os.X_OK):
        return f"its interpreter {python} does not exist"
    try:
        done = subprocess.run(
            [python, "-c", _CHECK, *modules],
            capture_output=True,
            text=True,
            timeout=CHECK_TIMEOUT,
            env={**_BASE_ENV, "PATH": "/usr/bin:/bin"},
            stdin=subprocess.DEVNULL,
            check=False,
        )
        found = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError):
        return f"its interpreter {python} cannot be run"
    if found["missing"]:
        return f"{', '.join(found['missing'])} not installed for {python} (Python {found['python']})"
    return None
