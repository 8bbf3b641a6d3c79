"""Results for people: a ``multipart/related`` body (several raw outputs) shown output by output.

Text is printed as text, JSON pretty, anything else as its size with a hint to use ``-o``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

from rich.console import Console
from rich.text import Text

Hint = "write the results to a file with -o FILE"


@dataclass(frozen=True)
class Part:
    name: str
    media_type: str
    content: bytes


def parts(content: bytes, content_type: str) -> list[Part]:
    """The parts of a multipart body, each named by its ``Content-ID`` (else by position)."""
    message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + content)
    found = []
    for i, part in enumerate(message.iter_parts() if message.is_multipart() else [], start=1):
        name = str(part.get("Content-ID", "")).strip().strip("<>") or f"part {i}"
        found.append(Part(name=name, media_type=part.get_content_type(), content=_payload(part)))
    return found


def _payload(part: Message) -> bytes:
    payload = part.get_payload(decode=True)
    return payload if isinstance(payload, bytes) else b""


def show(console: Console, found: list[Part]) -> None:
    """Each output under its name: short text and JSON scalars on the name's line."""
    for part in found:
        head = Text.assemble((part.name, "bold"), ":")
        body = _readable(part)
        if body is None:
            console.print(head, Text(f"{len(part.content)} bytes ({part.media_type}); {Hint}", style="dim"))
        elif "\n" not in body and len(body) < 60:
            console.print(head, body, soft_wrap=True, markup=False)
        else:
            console.print(head)
            console.print(body, soft_wrap=True, markup=False)


def _readable(part: Part) -> str | None:
    """The part as text for a person, or None when it is binary."""
    if part.media_type == "application/json" or part.media_type.endswith("+json"):
        try:
            return json.dumps(json.loads(part.content), indent=2, ensure_ascii=False)
        except ValueError:
            return None
    if part.media_type.startswith("text/"):
        try:
            return part.content.decode().rstrip("\n")
        except UnicodeDecodeError:
            return None
    return None
