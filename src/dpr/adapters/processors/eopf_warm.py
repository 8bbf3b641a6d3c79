"""Warm EOPF runs: ``eopf trigger`` forked from a process that has EOPF imported already.

Every ``eopf`` command starts a Python and imports EOPF, seconds before the payload starts
(docs/benchmarks.md). With the ``warm`` option a worker keeps one *zygote* per EOPF interpreter:
``python -m dpr.adapters.processors.eopf_warm``, run by that interpreter, imports EOPF's command
line once and then forks one child per run. The child starts its own session (so dismissal
signals its whole process group, as for a command), takes the run's folder, environment and
temporary folder, writes its output to two files the worker follows, and its exit code to a
third. The zygote ignores SIGCHLD, so its children are reaped by the kernel and never linger.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from dpr.domain.errors import Cancelled, ProcessorError
from dpr.ports.processor import ProcessorContext

_ZYGOTES: dict[str, subprocess.Popen[str]] = {}
_LOCK = threading.Lock()  # one request at a time per worker process: a fork is quick


def run_warm(
    python: str,
    args: Sequence[str],
    context: ProcessorContext,
    *,
    folder: Path,
    cwd: str,
    env: Mapping[str, str],
    cancel_grace: float,
    poll: float = 0.1,
) -> int:
    """Run ``eopf ARGS`` forked from the zygote of ``python``; stdout lines go to
    ``context.log`` at INFO, stderr lines at WARNING. Same contract as ``run_command``: returns
    0, raises ``Cancelled`` when the job was dismissed (the run is stopped first) and
    ``ProcessorError`` when it fails. ``folder`` holds the run's output files."""
    files = {name: folder / f"eopf.{name}" for name in ("out", "err", "status")}
    pid = _fork(python, {"args": list(args), "cwd": cwd, "env": dict(env), **{k: str(p) for k, p in files.items()}})
    context.log(f"started eopf, forked from a warm EOPF (pid {pid})")
    streams = [_Follower(files["out"], context, "INFO"), _Follower(files["err"], context, "WARNING")]
    try:
        while _alive(pid):
            if context.cancelled:
                _stop(pid, cancel_grace)
                raise Cancelled(context.job_id)
            for stream in streams:
                stream.read()
            time.sleep(poll)
    finally:
        if _alive(pid):  # the processor's thread is leaving for another reason
            _stop(pid, cancel_grace)
        for stream in streams:
            stream.close()
    status = files["status"].read_text().strip() if files["status"].is_file() else ""
    if status != "0":
        raise ProcessorError(f"eopf exited with code {status}" if status else "eopf was killed")
    return 0


def _fork(python: str, request: dict[str, object]) -> int:
    with _LOCK:
        zygote = _ZYGOTES.get(python)
        if zygote is None or zygote.poll() is not None:
            zygote = _ZYGOTES[python] = _start(python)
        assert zygote.stdin is not None and zygote.stdout is not None
        try:
            zygote.stdin.write(json.dumps(request) + "\n")
            zygote.stdin.flush()
            answer = zygote.stdout.readline()
        except OSError:
            answer = ""
        if not answer:
            _ZYGOTES.pop(python, None)
            raise ProcessorError("the warm EOPF process ended: see the worker's log")
        return int(json.loads(answer)["pid"])


def _start(python: str) -> subprocess.Popen[str]:
    base = {"LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUNBUFFERED": "1", "PATH": "/usr/bin:/bin"}
    try:
        return subprocess.Popen(
            [python, "-m", "dpr.adapters.processors.eopf_warm"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=base,
            start_new_session=True,  # not in the worker's process group: a job's signals miss it
        )
    except OSError as e:
        raise ProcessorError(f"cannot start a warm EOPF: {e.strerror or e}") from None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stop(pid: int, grace: float) -> None:
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if _alive(pid):
        _signal(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)


def _signal(pid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pid, sig)  # the child leads its own session
    except (ProcessLookupError, PermissionError):
        pass


class _Follower:
    """Follows a file the child writes, giving each complete line to ``context.log``."""

    def __init__(self, path: Path, context: ProcessorContext, level: str) -> None:
        self.path, self.context, self.level = path, context, level
        self._file: IO[bytes] | None = None
        self._partial = b""

    def read(self) -> None:
        if self._file is None:
            if not self.path.exists():
                return
            self._file = self.path.open("rb")
        data = self._partial + self._file.read()
        *lines, self._partial = data.split(b"\n")
        for line in lines:
            self.context.log(line.decode("utf-8", "replace").rstrip("\r"), level=self.level)

    def close(self) -> None:
        self.read()
        if self._partial:
            self.context.log(self._partial.decode("utf-8", "replace"), level=self.level)
        if self._file is not None:
            self._file.close()


# --- the zygote: run by the EOPF interpreter -----------------------------------------------


def _serve() -> None:  # pragma: no cover - runs in the EOPF environment's interpreter
    import importlib

    eopf_cli = importlib.import_module("eopf.cli.cli").eopf_cli  # the seconds every new run pays, paid once
    importlib.import_module("eopf.triggering.runner")
    # Python warns that forking a process with threads may deadlock the child: the threads
    # here are the numeric libraries' idle pools, which register their own fork handlers.
    warnings.filterwarnings("ignore", r"This process .* is multi-threaded", DeprecationWarning)

    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:
            _child(eopf_cli, request)
        sys.stdout.write(json.dumps({"pid": pid}) + "\n")
        sys.stdout.flush()


def _child(eopf_cli: object, request: dict[str, object]) -> None:  # pragma: no cover - forked
    code = 1
    try:
        os.setsid()
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.chdir(str(request["cwd"]))
        os.environ.clear()
        os.environ.update({str(k): str(v) for k, v in dict(request["env"]).items()})  # type: ignore[call-overload]
        import tempfile

        tempfile.tempdir = None  # TMPDIR is the run's
        for fd, name in ((1, "out"), (2, "err")):
            target = os.open(str(request[name]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(target, fd)
            os.close(target)
        devnull = os.open(os.devnull, os.O_RDONLY)  # not the zygote's request pipe, for EOPF's children too
        os.dup2(devnull, 0)
        os.close(devnull)
        try:
            eopf_cli.main(args=list(request["args"]), prog_name="eopf")  # type: ignore[attr-defined, call-overload]
            code = 0
        except SystemExit as e:  # click ends every command with one
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        Path(str(request["status"])).write_text(f"{code}\n")
        os._exit(code)


if __name__ == "__main__":  # pragma: no cover
    _serve()
