"""Following a job to its end: polling its status, drawing it, telling the outcome."""

from __future__ import annotations

import re
import time
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, Progress, SpinnerColumn, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.text import Text

from dpr.domain.text import escape_controls
from dpr.entrypoints.cli.client import DprClient, Refused
from dpr.entrypoints.cli.errors import Exit, JobNotSuccessful
from dpr.entrypoints.cli.output import Output
from dpr.entrypoints.cli.views import STATUS_STYLE, TERMINAL
from dpr.entrypoints.cli.when import duration

Doc = dict[str, Any]
INTERVAL = 0.5


def poll(client: DprClient, job_id: str, interval: float = INTERVAL) -> Iterator[Doc]:
    """The job's status document every ``interval`` seconds, up to and including the final one.

    Raises ``JobNotSuccessful`` if the job disappears while watched (dismissed and removed).
    """
    seen = False
    while True:
        try:
            doc = client.job(job_id)
        except Refused as e:
            if seen and e.kind == "no-such-job":
                raise JobNotSuccessful(f"job {job_id} is gone: it was dismissed and removed while watched") from None
            raise
        seen = True
        yield doc
        if doc.get("status") in TERMINAL:
            return
        time.sleep(interval)


def track(updates: Iterable[Doc], console: Console) -> Doc:
    """A live bar on a terminal, else one line per change; returns the final document."""
    return _bar(updates, console) if console.is_terminal else _lines(updates, console)


def json_lines(updates: Iterable[Doc], out: Output) -> Doc:
    """Each status document that differs from the one before, as a JSON line."""
    doc: Doc = {}
    for update in updates:
        if _state(update) != _state(doc):
            out.json_line(update)
        doc = update
    return doc


def _state(doc: Doc) -> tuple[Any, ...]:
    return doc.get("status"), doc.get("progress"), doc.get("message")


def _bar(updates: Iterable[Doc], console: Console) -> Doc:
    columns = (
        SpinnerColumn(finished_text=" "),
        TextColumn("{task.fields[status]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
    )
    doc: Doc = {}
    with Progress(*columns, console=console) as bar:
        task = bar.add_task("", total=100, status="")
        for doc in updates:
            status = str(doc.get("status", ""))
            bar.update(
                task,
                completed=doc.get("progress") or 0,
                description=escape(str(doc.get("message") or "")),
                status=f"[{STATUS_STYLE.get(status, '')}]{status}[/]",
            )
        if doc.get("status") == "successful":
            bar.update(task, completed=100)
    return doc


def _lines(updates: Iterable[Doc], console: Console) -> Doc:
    doc: Doc = {}
    for update in updates:
        if _state(update) != _state(doc):
            progress = "" if update.get("progress") is None else f"{update['progress']:>3}%"
            stamp = datetime.now(UTC).strftime("%H:%M:%S")
            message = escape_controls(update.get("message") or "")
            console.print(
                Text(f"{stamp} {update.get('status', '')} {progress} {message}".rstrip()),
                soft_wrap=True,
            )
        doc = update
    return doc


def end(doc: Doc) -> None:
    """Exit 1 unless the job succeeded (its outcome is already told)."""
    if doc.get("status") != "successful":
        click.get_current_context().exit(Exit.JOB_FAILED)


def outcome(doc: Doc, console: Console) -> Text:
    """``✔ job X successful in 3.1s`` or ``✘ job X failed: reason`` (no marks without UTF-8)."""
    status, job_id = str(doc.get("status", "")), doc.get("jobID", "")
    utf8 = console.encoding.lower().startswith("utf")
    if status == "successful":
        took = duration(doc, datetime.now(UTC))
        return Text(
            ("✔ " if utf8 else "") + f"job {job_id} successful" + (f" in {took}" if took else ""), style="green"
        )
    reason = re.sub(rf"^{status}:\s*", "", str(doc.get("message") or ""), flags=re.IGNORECASE) or "no reason given"
    return Text(("✘ " if utf8 else "") + f"job {job_id} {status}: {reason}", style=STATUS_STYLE.get(status, "red"))
