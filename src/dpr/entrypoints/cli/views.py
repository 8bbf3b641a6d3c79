"""rich renderings of the server's documents: process lists and descriptions, jobs."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from rich.cells import cell_len
from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.table import Column, Table
from rich.text import Text

from dpr.entrypoints.cli.when import ago, duration

Doc = dict[str, Any]
STATUS_STYLE = {"accepted": "cyan", "running": "yellow", "successful": "green", "failed": "red", "dismissed": "magenta"}
MODES = {"sync-execute": "sync", "async-execute": "async", "dismiss": "dismiss"}
TERMINAL = frozenset({"successful", "failed", "dismissed"})
FLEXIBLE_MIN = 12  # the width under which a shortened message is useless


def table(*columns: str | Column) -> Table:
    return Table(*columns, box=None, header_style="bold", pad_edge=False, padding=(0, 2, 0, 0))


def status_text(status: str) -> Text:
    return Text(status, style=STATUS_STYLE.get(status, ""))


def modes(doc: Doc) -> str:
    return ", ".join(MODES.get(m, m) for m in doc.get("jobControlOptions", []))


def compact(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def process_list(doc: Doc) -> RenderableType:
    t = table(Column("ID", no_wrap=True), "VERSION", "TITLE", Column("EXECUTION", no_wrap=True))
    for p in doc.get("processes", []):
        t.add_row(Text(p["id"], style="bold"), p.get("version", ""), p.get("title", ""), modes(p))
    return t if t.rows else Text("no processes", style="dim")


def schema_type(schema: Doc) -> str:
    """``number 0..86400``, ``array<integer>``, ``string | number``, ``one of a, b``."""
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives:
        return " | ".join(schema_type(s) for s in alternatives)
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = " | ".join(kind)
    if kind == "array":
        return f"array<{schema_type(schema.get('items', {}))}>"
    parts = [kind or ("object" if "properties" in schema else "any")]
    if "enum" in schema:
        parts.append("one of " + ", ".join(compact(v) for v in schema["enum"]))
    if "minimum" in schema or "maximum" in schema:
        parts.append(f"{schema.get('minimum', '')}..{schema.get('maximum', '')}")
    parts += [str(schema[k]) for k in ("format", "contentMediaType") if k in schema]
    if "pattern" in schema:
        parts.append(f"pattern {schema['pattern']}")
    return " ".join(parts)


def occurs(item: Doc) -> tuple[bool, str]:
    low, high = int(item.get("minOccurs", 1)), item.get("maxOccurs", 1)
    return low > 0, f"{low}..{'*' if high == 'unbounded' else high}"


def inputs_table(inputs: Doc) -> Table:
    t = table("INPUT", "TYPE", "REQUIRED", "DEFAULT", "OCCURS", "TITLE")
    for name, item in inputs.items():
        schema = item.get("schema", {})
        required, span = occurs(item)
        default = compact(schema["default"]) if "default" in schema else ""
        t.add_row(
            Text(name, style="bold"),
            schema_type(schema),
            "yes" if required else "no",
            default,
            span,
            item.get("title", ""),
        )
    return t


def outputs_table(outputs: Doc) -> Table:
    t = table("OUTPUT", "TYPE", "TITLE")
    for name, item in outputs.items():
        t.add_row(Text(name, style="bold"), schema_type(item.get("schema", {})), item.get("title", ""))
    return t


def example(doc: Doc) -> str:
    """A command line that runs the process, with its required inputs or else its first one."""
    inputs = doc.get("inputs", {})
    names = [n for n, item in inputs.items() if occurs(item)[0]] or list(inputs)[:1]
    args = " ".join(f"-i {n}={compact(inputs[n].get('schema', {}).get('default', '...'))}" for n in names)
    return f"dpr execute {doc.get('id', 'ID')} {args}".rstrip()


def process_view(doc: Doc, task_table: Any = None) -> RenderableType:
    head = Text.assemble((doc.get("id", ""), "bold"), f" {doc.get('version', '')}  ", doc.get("title", ""))
    parts: list[RenderableType] = [head]
    if doc.get("description"):
        parts.append(Text(doc["description"], style="italic"))
    if doc.get("keywords"):
        parts.append(Text("keywords: " + ", ".join(doc["keywords"]), style="dim"))
    transmission = ", ".join(doc.get("outputTransmission", []))
    parts.append(Text(f"execution: {modes(doc)}    output transmission: {transmission}"))
    parts += [Text(), inputs_table(doc.get("inputs", {})), Text(), outputs_table(doc.get("outputs", {}))]
    if task_table is not None:
        parts += [Text(), Text("TASK TABLE", style="bold"), data_view(task_table)]
    parts += [Text(), Text(f"run it: {example(doc)}", style="dim")]
    return Group(*parts)


def data_view(data: Any) -> RenderableType:
    """Any JSON value: a list of objects as a table, an object as key/value rows."""
    if isinstance(data, list) and data and all(isinstance(row, dict) for row in data):
        keys = list(dict.fromkeys(k for row in data for k in row))
        t = table(*(k.upper() for k in keys))
        for row in data:
            t.add_row(*(compact(row.get(k, "")) for k in keys))
        return t
    if isinstance(data, dict):
        t = table("KEY", "VALUE")
        for key, value in data.items():
            t.add_row(
                Text(str(key), style="bold"), data_view(value) if isinstance(value, (list, dict)) else compact(value)
            )
        return t
    return Text(compact(data))


def progress(doc: Doc) -> str:
    value = doc.get("progress")
    return "" if value is None else f"{value}%"


class Fitted:
    """A table that drops its least useful columns rather than cut a cell short when the
    terminal is narrow; only the ``flexible`` column may be shortened (with an ellipsis)."""

    def __init__(
        self, headers: list[str], rows: list[list[str | Text]], dropped_first: list[str], flexible: str
    ) -> None:
        self.headers, self.rows, self.dropped_first, self.flexible = headers, rows, dropped_first, flexible

    def width(self, header: str) -> int:
        i = self.headers.index(header)
        widest = max([cell_len(str(row[i])) for row in self.rows] + [len(header)])
        return min(widest, FLEXIBLE_MIN) if header == self.flexible else widest

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        kept, droppable = list(self.headers), list(self.dropped_first)
        while droppable and sum(self.width(h) + 2 for h in kept) > options.max_width:
            kept.remove(droppable.pop(0))
        room = options.max_width - sum(self.width(h) + 2 for h in kept if h != self.flexible)
        columns = [
            Column(h, no_wrap=True, overflow="ellipsis", max_width=room if h == self.flexible else None) for h in kept
        ]
        t = table(*columns)
        for row in self.rows:
            t.add_row(*(row[self.headers.index(h)] for h in kept))
        yield t


def job_list(doc: Doc) -> RenderableType:
    now = datetime.now(UTC)
    rows: list[list[str | Text]] = [
        [
            job["jobID"],
            job.get("processID", ""),
            status_text(job.get("status", "")),
            progress(job),
            ago(job.get("created"), now),
            duration(job, now),
            job.get("message", ""),
        ]
        for job in doc.get("jobs", [])
    ]
    if not rows:
        return Text("no jobs", style="dim")
    headers = ["JOB", "PROCESS", "STATUS", "PROGRESS", "CREATED", "DURATION", "MESSAGE"]
    return Fitted(headers, rows, ["DURATION", "MESSAGE", "PROGRESS", "CREATED", "PROCESS"], flexible="MESSAGE")


def job_view(doc: Doc) -> RenderableType:
    now = datetime.now(UTC)
    grid = Table.grid(padding=(0, 2))
    rows: list[tuple[str, Any]] = [
        ("job", Text(doc.get("jobID", ""), style="bold")),
        ("process", doc.get("processID", "")),
        ("status", status_text(doc.get("status", ""))),
        ("progress", progress(doc)),
        ("message", doc.get("message", "")),
        *((key, f"{doc[key]}  ({ago(doc[key], now)})") for key in ("created", "started", "finished") if doc.get(key)),
        ("duration", duration(doc, now)),
    ]
    for key, value in rows:
        if value:
            grid.add_row(Text(key, style="dim"), value)
    return Group(grid, Text(next_step(doc), style="dim"))


def next_step(doc: Doc) -> str:
    job_id, status = doc.get("jobID", "ID"), doc.get("status")
    if status == "successful":
        return f"results: dpr jobs results {job_id}"
    if status in TERMINAL:
        return f"logs: dpr jobs logs {job_id}"
    return f"watch: dpr jobs watch {job_id}"
