"""The ``Prefer`` header (RFC 7240) and how it picks synchronous or asynchronous execution."""

from __future__ import annotations

from enum import StrEnum

import msgspec

from dpr.domain.process import JobControl, ProcessDescription


class Mode(StrEnum):
    SYNC = "sync"
    ASYNC = "async"


class Preference(msgspec.Struct, frozen=True, kw_only=True):
    respond_async: bool = False
    wait: float | None = None
    return_: str | None = None


def parse_prefer(header: str | None) -> Preference:
    """Parse leniently: unknown tokens (OWSLib's ``respond-sync``) and bad values are ignored."""
    respond_async, wait, ret = False, None, None
    for token in (header or "").replace(";", ",").split(","):
        name, _, value = token.strip().partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "respond-async":
            respond_async = True
        elif name == "wait":
            try:
                wait = max(0.0, float(value))
            except ValueError:
                continue
        elif name == "return" and value in ("minimal", "representation"):
            ret = value
    return Preference(respond_async=respond_async, wait=wait, return_=ret)


def choose_mode(process: ProcessDescription, preference: Preference) -> Mode:
    """The standard's rule: a process offering one mode gets it; with both, Prefer decides."""
    sync_ok, async_ok = process.allows(JobControl.SYNC), process.allows(JobControl.ASYNC)
    if sync_ok and async_ok:
        return Mode.ASYNC if preference.respond_async else Mode.SYNC
    return Mode.SYNC if sync_ok else Mode.ASYNC
