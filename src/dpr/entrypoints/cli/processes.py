"""``dpr processes list|describe``: what the server can run."""

from __future__ import annotations

from typing import Any

import click

from dpr.entrypoints.cli import complete, views
from dpr.entrypoints.cli.client import ApiError, DprClient
from dpr.entrypoints.cli.session import Session, client_options

TASK_TABLE_REL = "task-table"


@click.group()
def processes() -> None:
    """List and describe the processes offered."""


@processes.command("list")
@click.option("-q", "--quiet", is_flag=True, help="Print only the process ids, one a line.")
@client_options
@click.pass_obj
def list_processes(s: Session, quiet: bool) -> None:
    """List the processes (every page of GET /processes).

    \b
    --json: the server's process list {"processes": [...], "links": [...]}.
    """
    doc = s.client().processes()
    if quiet and not s.json:
        for process in doc.get("processes", []):
            s.out.print(process["id"])
        return
    s.out.document(doc, views.process_list)


@processes.command("describe")
@click.argument("process_id", metavar="ID", shell_complete=complete.process_ids)
@client_options
@click.pass_obj
def describe(s: Session, process_id: str) -> None:
    """Describe a process: inputs, outputs, execution modes.

    \b
    --json: the server's process description, unmodified.
    """
    client = s.client()
    doc = client.process(process_id)
    if s.json:
        s.out.print_json(doc)
        return
    s.out.print(views.process_view(doc, task_table(client, doc, s)))


def task_table(client: DprClient, doc: dict[str, Any], s: Session) -> Any:
    """A DPR process's task table: its ``taskTable`` key, or the document its
    ``task-table`` link points at; None when it has none."""
    if "taskTable" in doc:
        return doc["taskTable"]
    href = next((link["href"] for link in doc.get("links", []) if link.get("rel") == TASK_TABLE_REL), None)
    if href is None:
        return None
    try:
        return client.get_json(href)
    except ApiError as e:
        s.out.note(f"the task table at {href} could not be read: {e.message}")
        return {"href": href}
