"""The execute request, from ``-i NAME=VALUE`` options and an ``--input-file`` (JSON or YAML).

A value is read as JSON when it parses (``2``, ``false``, ``[1,2]``, ``{"href": ...}``), else it
is the text itself. For an input whose schema is a single plain string, a number, boolean or
null is kept as text (``-i product_type=123`` sends ``"123"``). ``@FILE`` reads the value from
a file (by the same rule; base64 when it is not UTF-8), ``@@`` escapes a leading ``@``.
Repeating a name makes an array.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from dpr.entrypoints.cli.errors import UsageError

REQUEST_KEYS = frozenset({"inputs", "outputs", "response", "subscriber"})
SCALARS = (int, float, bool, type(None))


def text_inputs(description: dict[str, Any]) -> frozenset[str]:
    """The inputs that take one plain string: their values are never numbers or booleans."""
    return frozenset(
        name
        for name, item in description.get("inputs", {}).items()
        if item.get("schema", {}).get("type") == "string" and item.get("maxOccurs", 1) == 1
    )


def decode(text: str, as_text: bool = False) -> Any:
    try:
        value = json.loads(text)
    except ValueError:
        return text
    return text if as_text and isinstance(value, SCALARS) else value


def file_value(name: str, path: str, as_text: bool) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as e:
        raise UsageError(f"-i {name}=@{path}: cannot read the file ({e.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        encoded = base64.b64encode(data).decode("ascii")
        return {"value": encoded, "encoding": "base64", "mediaType": "application/octet-stream"}
    return decode(text, as_text)


def parse_assignment(text: str, as_text: frozenset[str] = frozenset()) -> tuple[str, Any]:
    """``("duration", 2)`` from ``duration=2``; raises ``UsageError`` without a name."""
    name, sep, raw = text.partition("=")
    name = name.strip()
    if not sep or not name:
        raise UsageError(f"-i {text!r}: expected NAME=VALUE (VALUE as JSON, as text, or @FILE)")
    if raw.startswith("@@"):
        return name, decode(raw[1:], name in as_text)
    if raw.startswith("@"):
        return name, file_value(name, raw[1:], name in as_text)
    return name, decode(raw, name in as_text)


def collect(assignments: Iterable[str], as_text: frozenset[str] = frozenset()) -> dict[str, Any]:
    """The inputs map; a name given several times gets the array of its values."""
    values: dict[str, list[Any]] = {}
    for assignment in assignments:
        name, value = parse_assignment(assignment, as_text)
        values.setdefault(name, []).append(value)
    return {name: vs[0] if len(vs) == 1 else vs for name, vs in values.items()}


def load_request(path: str) -> dict[str, Any]:
    """An execute request (``{"inputs": ...}``) or a bare inputs map, from JSON or YAML;
    ``-`` reads stdin. Always returns a request."""
    try:
        text = sys.stdin.read() if path == "-" else Path(path).read_text()
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"--input-file {path}: cannot read it ({getattr(e, 'strerror', None) or e})") from None
    data = _parse(text, path)
    if not isinstance(data, dict):
        raise UsageError(f"--input-file {path}: expected a mapping of inputs or an execute request")
    return data if "inputs" in data and set(data) <= REQUEST_KEYS else {"inputs": data}


def _parse(text: str, path: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        return yaml.safe_load(text) or {}
    except yaml.YAMLError as e:
        raise UsageError(f"--input-file {path}: neither JSON nor YAML ({' '.join(str(e).split())})") from None


def build_request(
    base: dict[str, Any] | None,
    assignments: Iterable[str],
    as_text: frozenset[str],
    response: str | None = None,
    default_response: str | None = None,
) -> dict[str, Any]:
    """The file's request with the ``-i`` values over its inputs; ``response`` overrides the
    file's response mode, ``default_response`` only stands in for a missing one."""
    request = dict(base or {})
    request["inputs"] = {**(request.get("inputs") or {}), **collect(assignments, as_text)}
    if response or (default_response and "response" not in request):
        request["response"] = response or default_response
    return request
