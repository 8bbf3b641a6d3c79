"""Running a command line for a processor: output to the job log, dismissal to signals.

A processor that wraps an external program calls ``run_command``. Every stdout/stderr line goes
to ``context.log`` (which masks the run's secrets), the cancellation flag is checked while the
program runs, and a dismissed job's program gets SIGTERM, then SIGKILL after the grace period,
sent to its whole process group so its children go too.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from typing import IO

from dpr.domain.errors import Cancelled, ProcessorError
from dpr.ports.processor import ProcessorContext

default_grace: ContextVar[float] = ContextVar("dpr_cancel_grace", default=10.0)
"""Seconds between SIGTERM and SIGKILL when no ``cancel_grace`` is given; executors set it."""


def run_command(
    argv: Sequence[str],
    context: ProcessorContext,
    *,
    cwd: str | None = None,
    env: Mapping[str, str] | None = None,
    cancel_grace: float | None = None,
    poll: float = 0.1,
) -> int:
    """Run ``argv`` (no shell) to the end and return its exit code (always 0).

    The program sees ``env`` or, by default, only ``PATH`` plus ``context.env`` (never the
    worker's whole environment). Raises ``Cancelled`` when the job was dismissed (the program is
    stopped first) and ``ProcessorError`` when it cannot start or exits with another code.
    """
    grace = default_grace.get() if cancel_grace is None else cancel_grace
    process = _spawn(argv, cwd, _environment(env, context))
    context.log(f"started {os.path.basename(argv[0])} (pid {process.pid})")
    readers = [_pump(process.stdout, context, "INFO"), _pump(process.stderr, context, "WARNING")]
    try:
        code = _wait(process, context, poll)
        if code is None:
            stop(process, grace)
            raise Cancelled(context.job_id)
    finally:
        if process.poll() is None:  # the processor's thread is leaving for another reason
            stop(process, grace)
        for reader in readers:
            reader.join(timeout=5)
    if code != 0:
        raise ProcessorError(f"{os.path.basename(argv[0])} exited with code {code}")
    return code


def stop(process: subprocess.Popen[bytes], grace: float) -> int:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds; returns the exit code."""
    _signal_group(process, signal.SIGTERM)
    try:
        return process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(process, signal.SIGKILL)
        return process.wait()


def _spawn(argv: Sequence[str], cwd: str | None, env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    if not argv:
        raise ProcessorError("no command to run")
    try:
        return subprocess.Popen(
            list(argv),
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except OSError as e:
        raise ProcessorError(f"cannot run {os.path.basename(argv[0])}: {e.strerror or e}") from None


def _environment(env: Mapping[str, str] | None, context: ProcessorContext) -> dict[str, str]:
    if env is not None:
        return dict(env)
    return {"PATH": os.environ.get("PATH", os.defpath), **context.env}


def _wait(process: subprocess.Popen[bytes], context: ProcessorContext, poll: float) -> int | None:
    """The exit code, or ``None`` as soon as the job is dismissed."""
    while True:
        if context.cancelled:
            return None
        try:
            return process.wait(timeout=poll)
        except subprocess.TimeoutExpired:
            continue


def _pump(stream: IO[bytes] | None, context: ProcessorContext, level: str) -> threading.Thread:
    def forward() -> None:
        assert stream is not None
        with stream:
            for raw in stream:
                context.log(raw.decode("utf-8", "replace").rstrip("\r\n"), level=level)

    thread = threading.Thread(target=forward, name=f"dpr-output-{context.job_id[:8]}", daemon=True)
    thread.start()
    return thread


def _signal_group(process: subprocess.Popen[bytes], sig: signal.Signals) -> None:
    try:
        os.killpg(process.pid, sig)  # start_new_session made the program its group's leader
    except (ProcessLookupError, PermissionError):
        pass
