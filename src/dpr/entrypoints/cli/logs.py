"""A job's log lines (``GET /jobs/{id}/logs?after=<seq>&limit=``), once or followed."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from rich.text import Text

from dpr.domain.text import escape_controls
from dpr.entrypoints.cli.client import DprClient, Refused
from dpr.entrypoints.cli.views import TERMINAL

Entry = dict[str, Any]
PAGE = 500
LEVEL_STYLE = {"DEBUG": "dim", "INFO": "", "WARNING": "yellow", "ERROR": "red", "CRITICAL": "bold red"}


def page(client: DprClient, job_id: str, after: int | None) -> list[Entry]:
    """One page of entries after ``after``; a 404 that is not "no such job" means the server
    has no logs route."""
    try:
        return list(client.logs(job_id, after, PAGE).get("logs", []))
    except Refused as e:
        if e.status == 404 and e.kind != "no-such-job":
            raise Refused(
                f"this server does not offer job logs (GET /jobs/{job_id}/logs answered 404): "
                "it predates them; upgrade it",
                status=404,
                problem=e.problem,
            ) from None
        raise


def drain(client: DprClient, job_id: str, after: int | None) -> Iterator[Entry]:
    """Every entry after ``after`` the server has now, page after page."""
    while True:
        entries = page(client, job_id, after)
        yield from entries
        if len(entries) < PAGE:
            return
        after = entries[-1]["seq"]


def entries(client: DprClient, job_id: str, follow: bool = False, interval: float = 1.0) -> Iterator[Entry]:
    """The job's log entries; with ``follow``, new ones as they come until the job has ended."""
    after: int | None = None
    while True:
        ended = not follow or client.job(job_id).get("status") in TERMINAL
        for entry in drain(client, job_id, after):
            after = entry.get("seq", after)
            yield entry
        if ended:
            return
        time.sleep(interval)


def line(entry: Entry) -> Text:
    """``2026-11-27 21:12:51.462 INFO    mockup: step 1/10 done``"""
    at = str(entry.get("at", "")).replace("T", " ")[:23]
    level = str(entry.get("level", "")).upper()
    return Text.assemble(
        (at, "dim"), " ", (f"{level:<7}", LEVEL_STYLE.get(level, "")), " ", escape_controls(str(entry.get("line", "")))
    )
