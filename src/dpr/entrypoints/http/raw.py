"""The standard's raw responses: one output as itself, several as ``multipart/related``."""

from __future__ import annotations

import base64
import binascii
from typing import Any

import msgspec

from dpr.domain.process import ProcessDescription
from dpr.domain.validation import is_qualified_output


class RawBody(msgspec.Struct, frozen=True, kw_only=True):
    media_type: str
    content: bytes


def encode_output(name: str, value: Any, process: ProcessDescription | None) -> RawBody:
    """One output as bytes in its declared media type (base64 outputs decoded)."""
    desc = process.outputs.get(name) if process else None
    media = desc.media_type if desc else ("text/plain" if isinstance(value, str) else "application/json")
    if desc is not None and is_qualified_output(value, desc):
        return _encode_qualified(value, media)
    if isinstance(value, str) and desc is not None and desc.schema.get("contentEncoding") == "base64":
        try:
            return RawBody(media_type=media, content=base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            pass
    if isinstance(value, str) and media != "application/json":
        return RawBody(
            media_type=media if "charset" in media or not media.startswith("text/") else f"{media}; charset=utf-8",
            content=value.encode(),
        )
    return RawBody(media_type="application/json", content=msgspec.json.encode(value))


def _encode_qualified(value: dict[str, Any], media: str) -> RawBody:
    given = value.get("mediaType")
    media = given if isinstance(given, str) else media
    inner = value["value"]
    if isinstance(inner, str) and value.get("encoding") == "base64":
        try:
            return RawBody(media_type=media, content=base64.b64decode(inner, validate=True))
        except (binascii.Error, ValueError):
            pass
    if isinstance(inner, str) and media != "application/json":
        return RawBody(media_type=media, content=inner.encode())
    return RawBody(media_type="application/json", content=msgspec.json.encode(inner))


def raw_results(outputs: dict[str, Any], process: ProcessDescription | None, *, boundary: str) -> RawBody:
    """A single output as itself; several as a ``multipart/related`` body with one part each,
    separated by ``boundary`` (which must occur in none of them)."""
    if len(outputs) == 1:
        name, value = next(iter(outputs.items()))
        return encode_output(name, value, process)
    parts = []
    for name, value in outputs.items():
        part = encode_output(name, value, process)
        head = f"--{boundary}\r\nContent-Type: {part.media_type}\r\nContent-ID: <{name}>\r\n\r\n".encode()
        parts.append(head + part.content + b"\r\n")
    body = b"".join(parts) + f"--{boundary}--\r\n".encode()
    return RawBody(media_type=f'multipart/related; boundary="{boundary}"', content=body)
