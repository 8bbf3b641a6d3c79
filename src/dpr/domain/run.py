"""What an executor needs to run one job: the work order handed to a worker."""

from __future__ import annotations

from typing import Any

import msgspec

from dpr.domain.locations import LocationPolicy


class ProcessorRef(msgspec.Struct, frozen=True, kw_only=True):
    """Where a worker finds a processor: an import path and the options it is built with.

    ``target`` is ``"package.module:ClassName"``; the class must implement the ``Processor`` port.
    ``env`` names the environment variables this processor needs from the worker (only those are
    handed to it). ``locations`` is the location policy of this process, for the locations it
    only learns on the worker.
    """

    target: str
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    env: list[str] = msgspec.field(default_factory=list)
    retries: int = 0
    locations: LocationPolicy = msgspec.field(default_factory=LocationPolicy)


JUPYTER_TOKEN = "jupyter_token"
"""The ``Placement.credentials`` key of the caller's JupyterHub token (rs-dpr-service's field)."""


class Placement(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where the caller asked the job to run (rs-dpr-service's Dask Gateway fields).

    ``credentials`` (e.g. a JupyterHub token) let the executor reach that cluster; the executor
    uses them to connect and never ships them to a worker, stores or logs them.
    """

    cluster_label: str | None = None
    cluster_instance: str | None = None
    credentials: dict[str, str] = msgspec.field(default_factory=dict)

    def __repr__(self) -> str:
        return f"Placement(cluster_label={self.cluster_label!r}, cluster_instance={self.cluster_instance!r})"


class LogLimits(msgspec.Struct, frozen=True, kw_only=True):
    """How much of a processor's output a job's log keeps: longer lines are cut, and after
    ``lines`` lines one notice says the rest was dropped (a chatty run cannot fill the store)."""

    line_chars: int = 8192
    lines: int = 100_000


class WorkOrder(msgspec.Struct, frozen=True, kw_only=True):
    """One job's work: who runs it, with which inputs.

    ``secrets`` carry per-run credentials (tokens, keys) the processor needs. They live only in
    memory for the run: never in the job record, never in a log line.
    """

    job_id: str
    process_id: str
    processor: ProcessorRef
    inputs: dict[str, Any]
    secrets: dict[str, str] = msgspec.field(default_factory=dict)
    trace_context: dict[str, str] = msgspec.field(default_factory=dict)
    placement: Placement | None = None
    log_limits: LogLimits = msgspec.field(default_factory=LogLimits)

    def __repr__(self) -> str:  # never show secrets, even in a debugger or a traceback
        return f"WorkOrder(job_id={self.job_id!r}, process_id={self.process_id!r}, processor={self.processor.target!r})"
