"""Running one work order on whatever thread or worker an executor chose.

Shared by every executor so a processor behaves the same in tests, on one machine and on a
cluster. ``run_order`` never raises: every outcome becomes an event.
"""

from __future__ import annotations

import functools
import os
import socket
import threading
import traceback
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from dpr.adapters.processor_loader import load_processor
from dpr.domain.errors import Cancelled, ProcessorError
from dpr.domain.events import AnyEvent, Failed, Logged, Progressed, Started, Succeeded
from dpr.domain.locations import LocationPolicy
from dpr.domain.run import WorkOrder
from dpr.domain.secrets import mask
from dpr.ports.processor import ProcessorContext

Emit = Callable[[AnyEvent], None]
Now = Callable[[], datetime]
Sleep = Callable[[float], None]


def utcnow() -> datetime:
    return datetime.now(UTC)


class RunContext(ProcessorContext):
    """The processor's view of its job: progress, log, cancellation flag and environment.

    Every text it sends out has the run's secrets masked. ``now`` stamps its events and
    ``sleep`` does its waits when the executor keeps time its own way (a manual clock).
    """

    def __init__(
        self,
        order: WorkOrder,
        emit: Emit,
        cancelled: Callable[[], bool],
        now: Now = utcnow,
        sleep: Sleep | None = None,
    ) -> None:
        self.job_id = order.job_id
        self._emit, self._cancelled, self._now, self._sleep = emit, cancelled, now, sleep
        allowed = {k: os.environ[k] for k in order.processor.env if k in os.environ}
        self._env = {**allowed, **order.secrets}
        self._secrets = list(self._env.values())
        self._limits, self._logged = order.log_limits, 0
        self._locations = order.processor.locations

    def progress(self, percent: int | None = None, message: str | None = None) -> None:
        text = None if message is None else mask(message, self._secrets)
        self._emit(Progressed(job_id=self.job_id, at=self._now(), progress=percent, message=text))

    def log(self, line: str, level: str = "INFO") -> None:
        self._logged += 1
        if self._logged > self._limits.lines:
            if self._logged == self._limits.lines + 1:
                notice = f"the log holds at most {self._limits.lines} lines: later lines are dropped"
                self._emit(Logged(job_id=self.job_id, at=self._now(), line=notice, level="WARNING"))
            return
        line = mask(line, self._secrets)  # before cutting: a cut must not leave half a secret
        if len(line) > self._limits.line_chars:
            cut = len(line) - self._limits.line_chars
            line = f"{line[: self._limits.line_chars]}... [{cut} more characters cut]"
        self._emit(Logged(job_id=self.job_id, at=self._now(), line=line, level=level))

    def sleep(self, seconds: float) -> None:
        if self._sleep is None:
            return super().sleep(seconds)
        self.check_cancelled()
        self._sleep(seconds)
        self.check_cancelled()

    @property
    def cancelled(self) -> bool:
        return self._cancelled()

    @property
    def env(self) -> Mapping[str, str]:
        return dict(self._env)

    @property
    def locations(self) -> LocationPolicy:
        return self._locations

    def masked(self, text: str) -> str:
        return mask(text, self._secrets)


@functools.cache
def _host() -> str:
    return socket.gethostname()  # a system call: asked once per process, not once per job


def worker_name() -> str:
    return f"{_host()}:{os.getpid()}:{threading.current_thread().name}"


def run_order(
    order: WorkOrder, emit: Emit, cancelled: Callable[[], bool], now: Now = utcnow, sleep: Sleep | None = None
) -> AnyEvent:
    """Run the order's processor; emit ``Started``, its progress and logs, and the outcome.

    Returns the final event (also emitted). ``now`` and ``sleep``: see ``RunContext``.
    """
    emit(Started(job_id=order.job_id, at=now(), worker=worker_name()))
    context = RunContext(order, emit, cancelled, now, sleep)
    final: AnyEvent
    try:
        processor = load_processor(order.processor)
        outputs = processor.run(order.inputs, context)
        final = Succeeded(job_id=order.job_id, at=now(), outputs=dict(outputs or {}))
    except Cancelled:
        final = Failed(job_id=order.job_id, at=now(), error="cancelled on request")
    except ProcessorError as e:
        final = Failed(job_id=order.job_id, at=now(), error=context.masked(e.reason))
    except Exception as e:  # the processor's own bug: report it, keep the worker alive
        context.log(traceback.format_exc(), level="ERROR")
        final = Failed(job_id=order.job_id, at=now(), error=context.masked(f"{type(e).__name__}: {e}"))
    emit(final)
    return final
