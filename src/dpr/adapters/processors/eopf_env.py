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

import msgspec

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

    def missing(self, modules: Sequence[str] = ()) -> Missing | None:
        """What this environment lacks to run EOPF with ``modules``, or None when it can."""
        if not self.python:
            return Missing(reason="no EOPF environment is configured (process option 'venv' or 'python')")
        return _missing(self.python, ("eopf", *modules))

    def problem(self, modules: Sequence[str] = ()) -> str | None:
        """Why this environment cannot run EOPF with ``modules`` (for the administrator: it
        names paths), or None when it can."""
        found = self.missing(modules)
        return None if found is None else found.reason

    def describe(self, text: str, modules: Sequence[str] = (), requires: object = None) -> str:
        """A process's description ``text``, followed when EOPF cannot run here by what to
        install (``requires``: the process option naming its package); no path of the server."""
        missing = self.missing(modules)
        if missing is None:
            return text
        _log_once(missing.reason)
        return f"{text} Not available: {missing.public(None if requires is None else str(requires))}."

    def require(self, modules: Sequence[str] = ()) -> None:
        """Raise ``ProcessorError`` (a short message without paths, no traceback) if EOPF cannot
        run here; ``dpr eopf check`` tells the administrator more."""
        missing = self.missing(modules)
        if missing is not None:
            _log_once(missing.reason)
            raise ProcessorError(f"EOPF is not available on this worker: {missing.public()}")

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


class Missing(msgspec.Struct, frozen=True, kw_only=True):
    """What an EOPF environment lacks: ``reason`` for the administrator (paths, versions),
    ``modules`` the processing units' modules missing when EOPF itself is there."""

    reason: str
    modules: list[str] = msgspec.field(default_factory=list)

    def public(self, requires: str | None = None) -> str:
        """The reason for a process description: what to install, and no path of the server."""
        if self.modules:
            text = f"its EOPF processing units ({', '.join(self.modules)}) are not installed on this server"
        else:
            text = "EOPF is not installed on this server (an administrator installs it with `dpr eopf install`)"
        return f"{text}. To enable it, install {requires} into the EOPF environment" if requires else text


_LOGGED: set[str] = set()


def _log_once(reason: str) -> None:
    """The full reason (it names paths) goes to the server's log, once; clients get less."""
    if reason not in _LOGGED:
        _LOGGED.add(reason)
        log.warning("EOPF cannot run: %s", reason)


_READY: set[tuple[str, tuple[str, ...]]] = set()  # only successes are kept: a missing EOPF may be installed later


def _missing(python: str, modules: tuple[str, ...]) -> Missing | None:
    if (python, modules) in _READY:
        return None
    found = _ask(python, modules)
    if found is None:
        _READY.add((python, modules))
    return found


def _ask(python: str, modules: tuple[str, ...]) -> Missing | None:
    if not os.access(python, os.X_OK):
        return Missing(reason=f"its interpreter {python} does not exist")
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
        return Missing(reason=f"its interpreter {python} cannot be run")
    missing = list(found["missing"])
    if not missing:
        return None
    reason = f"{', '.join(missing)} not installed for {python} (Python {found['python']})"
    return Missing(reason=reason, modules=[] if "eopf" in missing else missing)
