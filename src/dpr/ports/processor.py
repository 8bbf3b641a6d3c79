"""The plugin that does a process's work."""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any

from dpr.domain.errors import Cancelled
from dpr.domain.locations import LocationPolicy
from dpr.domain.process import ProcessDescription


class ProcessorContext(ABC):
    """What a running processor can ask of dpr. Safe to call from the processor's thread."""

    job_id: str

    @abstractmethod
    def progress(self, percent: int | None = None, message: str | None = None) -> None:
        """Report how far the work is (0..100) and/or what it is doing now."""

    @abstractmethod
    def log(self, line: str, level: str = "INFO") -> None:
        """Add a line to the job's log."""

    @property
    @abstractmethod
    def cancelled(self) -> bool:
        """Whether the job was dismissed; a processor should stop soon after this is true."""

    def check_cancelled(self) -> None:
        """Raise ``Cancelled`` if the job was dismissed."""
        if self.cancelled:
            raise Cancelled(self.job_id)

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``; raise ``Cancelled`` as soon as the job is dismissed (checked before
        waiting, too). Processors wait with this rather than ``time.sleep``, so an executor may
        keep time its own way (the unit tests' manual clock); this default waits for real."""
        deadline = time.monotonic() + seconds
        while True:
            self.check_cancelled()
            left = deadline - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 0.05))

    @property
    @abstractmethod
    def env(self) -> Mapping[str, str]:
        """The environment (and per-run secrets) this processor is allowed to see."""

    @property
    def locations(self) -> LocationPolicy:
        """The locations this run may read and write: a processor checks those it learns
        only now (from a file it fetched) against it before using them. This default is the
        deployment default (any S3 bucket, nothing local)."""
        return LocationPolicy()


class Processor(ABC):
    """A process implementation. Built from its ``options``; runs on a worker.

    ``run`` is a plain (blocking) method on purpose: processors are CPU- and I/O-heavy EO code
    that runs in a worker thread, not on the service's event loop.
    """

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abstractmethod
    def describe(self) -> ProcessDescription:
        """The OGC description of the process this processor implements."""

    def task_table(self) -> dict[str, Any] | None:
        """The EOPF task table (JSON) of this processor, or None (the default) when it has none.

        Read once, where the catalog is built (the service, not a worker): it must be cheap and
        start no work.
        """
        return None

    @abstractmethod
    def run(self, inputs: Mapping[str, Any], context: ProcessorContext) -> dict[str, Any]:
        """Do the work and return the outputs by output id.

        Raise ``ProcessorError`` with a message fit for the caller when the work fails;
        ``Cancelled`` (via ``context.check_cancelled()``) when the job was dismissed. Any other
        exception fails the job with its type and message.
        """
