"""Where output goes: rich renderings for people, JSON for scripts, one-line notes on stderr.

rich turns colours off when the stream is not a terminal, when ``NO_COLOR`` is set or ``TERM``
is ``dumb``; progress bars and spinners are only drawn on a terminal.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click
from rich.console import Console, RenderableType
from rich.text import Text

from dpr.entrypoints.cli import results

PIPE_WIDTH = 200  # tables piped to grep keep their rows whole
Doc = dict[str, Any]


def make_console(stderr: bool = False) -> Console:
    console = Console(stderr=stderr, highlight=False)
    if not console.is_terminal and "COLUMNS" not in os.environ:
        console.width = PIPE_WIDTH
    return console


def print_error(message: str) -> None:
    """``error: <message>`` on stderr, as one line however long."""
    make_console(stderr=True).print(Text.assemble(("error: ", "bold red"), message), soft_wrap=True)


class Output:
    """The output of one command. ``json`` selects machine-readable output on stdout."""

    def __init__(self, json: bool = False) -> None:
        self.json = json
        self.console = make_console()
        self.err = make_console(stderr=True)

    @property
    def live(self) -> bool:
        """Whether to draw bars and spinners: a terminal, and not in JSON mode."""
        return self.console.is_terminal and not self.json

    def document(self, doc: Doc, view: Callable[[Doc], RenderableType]) -> None:
        """The document as JSON, or the rich view of it."""
        if self.json:
            self.print_json(doc)
        else:
            self.console.print(view(doc))

    def print_json(self, doc: Any) -> None:
        text = json.dumps(doc, indent=2, ensure_ascii=False)
        if self.console.is_terminal and not self.console.no_color:
            self.console.print_json(text)
        else:
            click.echo(text)

    def json_line(self, doc: Any) -> None:
        """One compact JSON document per line (JSON Lines), flushed at once for pipes."""
        click.echo(json.dumps(doc, ensure_ascii=False, separators=(",", ":")))
        sys.stdout.flush()

    def print(self, *renderables: RenderableType, **kwargs: Any) -> None:
        self.console.print(*renderables, **kwargs)

    def note(self, message: str) -> None:
        """A hint for people, on stderr so that stdout stays clean for pipes."""
        self.err.print(Text(message, style="dim"), soft_wrap=True)

    def trace(self, message: str) -> None:
        self.err.print(Text(message, style="dim cyan"), soft_wrap=True)

    def body(self, content: bytes, content_type: str, output: str | None) -> None:
        """A response body: written as is to ``output``; else JSON pretty-printed, text as
        text, several outputs (multipart) one by one under their names (not with ``--json``:
        then the body goes out as sent), and binary as its size on a terminal."""
        media_type = content_type.split(";")[0].strip().lower()
        if output is not None:
            Path(output).write_bytes(content)
            self.note(f"wrote {len(content)} bytes ({media_type or 'no media type'}) to {output}")
        elif media_type.startswith("multipart/") and not self.json:
            results.show(self.console, results.parts(content, content_type))
        elif media_type.endswith("json"):
            self.print_json(json.loads(content))
        elif media_type.startswith("text/"):
            click.echo(content.decode(errors="replace"), nl=not content.endswith(b"\n"))
        elif sys.stdout.isatty():
            self.print(Text(f"{len(content)} bytes ({media_type or 'no media type'}); {results.Hint}", style="dim"))
        else:
            sys.stdout.buffer.write(content)
            sys.stdout.flush()
