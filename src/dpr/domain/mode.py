"""Synchronous or asynchronous execution: what the client prefers, what the process allows."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from dpr.domain.process import JobControl, ProcessDescription


class Mode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


class Preference(msgspec.Struct, frozen=True, kw_only=True):
    """How the client would like its execution run: answered at once (``respond_async``), or
    waited for up to ``wait`` seconds."""

    respond_async: bool = False
    wait: float | None = None
    return_: str | None = None


def choose_mode(process: ProcessDescription, preference: Preference) -> Mode:
    """The standard's rule: a process offering one mode gets it; with both, Prefer decides."""
    sync_ok, async_ok = process.allows(JobControl.SYNC), process.allows(JobControl.ASYNC)
    if sync_ok and async_ok:
        return Mode.ASYNC if preference.respond_async else Mode.SYNC
    return Mode.SYNC if sync_ok else Mode.ASYNC
