"""What an executor reports about a job while it runs.

Events are plain Structs so they cross process boundaries (Dask pub/sub) unchanged. They carry
the time the executor observed them; the service applies them through ``Job.apply``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class JobEvent(msgspec.Struct, frozen=True, kw_only=True, tag_field="event"):
    """Base of all executor events."""

    job_id: str
    at: datetime


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
