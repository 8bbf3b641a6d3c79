"""Request bodies decoded at the edge: the services take typed requests, never bytes."""

from __future__ import annotations

from typing import Any

import msgspec

from dpr.domain.errors import InvalidInput
from dpr.domain.execute import ExecuteBody

MAX_JSON_DEPTH = 64
"""Arrays and objects nested deeper than this are refused: no input needs more, and the
decoder (then every recursive walk over the inputs) would otherwise hit Python's recursion
limit near 1000 levels."""


def decode_json(body: bytes) -> Any:
    """A JSON body as Python values; ``InvalidInput`` if it is not JSON or nests too deeply."""
    try:
        value = msgspec.json.decode(body)
    except msgspec.DecodeError as e:
        raise InvalidInput(f"the request body is not valid JSON: {e}") from None
    except RecursionError:
        raise InvalidInput(f"the request body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels") from None
    if _depth(value) > MAX_JSON_DEPTH:
        raise InvalidInput(f"the request body nests arrays or objects deeper than {MAX_JSON_DEPTH} levels")
    return value


def _depth(value: Any) -> int:
    """How deeply ``value`` nests lists and dicts, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        if deepest > MAX_JSON_DEPTH:
            return deepest
        stack.extend((child, level + 1) for child in children)
    return deepest


def decode_execute_body(body: bytes | dict[str, Any] | None) -> ExecuteBody:
    """Decode a request body, raising ``InvalidInput`` with msgspec's precise reason."""
    if body is None or (isinstance(body, bytes) and not body.strip()):
        return ExecuteBody()
    data = decode_json(body) if isinstance(body, bytes) else body
    try:
        return msgspec.convert(data, ExecuteBody)
    except msgspec.ValidationError as e:
        raise InvalidInput(f"the execute request is invalid: {e}") from None
