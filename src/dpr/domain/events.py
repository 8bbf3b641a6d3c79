"""What an executor reports about a job while it runs.

Events are plain Structs so they cross process boundaries (Dask pub/sub) unchanged. They carry
the time the executor observed them; the service applies them through ``Job.apply``.

An executor that may deliver an event more than once (a re-attaching instance replays what it
missed) numbers them: ``run`` names one execution of the job (a re-run gets a new one) and
``seq`` counts that run's events from 0, so a consumer keeps each ``(job_id, run, seq)`` once.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class JobEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    """Base of all executor events."""

    job_id: str
    at: datetime
    run: str | None = None  # the execution that sent it, when the executor numbers events
    seq: int | None = None  # its place among that run's events, from 0


class Started(JobEvent, frozen=True, kw_only=True, tag="started"):
    """Computing began on a worker."""

    worker: str | None = None


class Progressed(JobEvent, frozen=True, kw_only=True, tag="progress"):
    """The processor reported how far it is (0..100) and what it is doing."""

    progress: int | None = None
    message: str | None = None


class Logged(JobEvent, frozen=True, kw_only=True, tag="log"):
    """One line the processor wrote to its log."""

    line: str
    level: str = "INFO"


class Succeeded(JobEvent, frozen=True, kw_only=True, tag="succeeded"):
    """The processor returned its outputs."""

    outputs: dict[str, Any]


class Failed(JobEvent, frozen=True, kw_only=True, tag="failed"):
    """The processor (or the cluster under it) failed; ``error`` is safe to show."""

    error: str


AnyEvent = Started | Progressed | Logged | Succeeded | Failed
