"""Request bodies decoded at the edge: the services take typed requests, never bytes."""

from __future__ import annotations

from typing import Any

import msgspec

from dpr.domain.errors import InvalidInput
from dpr.domain.execute import ExecuteBody


def decode_execute_body(body: bytes | dict[str, Any] | None) -> ExecuteBody:
    """Decode a request body, raising ``InvalidInput`` with msgspec's precise reason."""
    try:
        if body is None or (isinstance(body, bytes) and not body.strip()):
            return ExecuteBody()
        if isinstance(body, dict):
            return msgspec.convert(body, ExecuteBody)
        return msgspec.json.decode(body, type=ExecuteBody)
    except msgspec.ValidationError as e:
        raise InvalidInput(f"the execute request is invalid: {e}") from None
    except msgspec.DecodeError as e:
        raise InvalidInput(f"the request body is not valid JSON: {e}") from None
