"""Execute requests (OGC ``execute.yaml``): the stored form and its parsing against a process."""

from __future__ import annotations

import base64
from enum import StrEnum
from typing import Any

import msgspec

from dpr.domain.errors import InvalidInput


class ResponseMode(StrEnum):
    RAW = "raw"
    DOCUMENT = "document"


class OutputRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """How the caller wants one output: a format and value or reference transmission."""

    format: dict[str, Any] | None = None
    transmissionMode: str = "value"


class Subscriber(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Callback URIs the server POSTs to when the job progresses, succeeds or fails."""

    successUri: str | None = None
    inProgressUri: str | None = None
    failedUri: str | None = None


class ExecuteRequest(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """A validated execute request, as stored in the job (never with secrets in it).

    ``inputs`` maps each input id to its value: a plain JSON value, a qualified value
    (``{"value": ..., "mediaType": ...}``), a reference (``{"href": ...}``), a bounding box
    (``{"bbox": [...], "crs": ...}``), or a list of those for inputs that take several values.
    """

    inputs: dict[str, Any] = msgspec.field(default_factory=dict)
    outputs: dict[str, OutputRequest] = msgspec.field(default_factory=dict)
    response: ResponseMode = ResponseMode.RAW
    subscriber: Subscriber | None = None
    callback_base: str | None = None
    """The service's public address when the job was accepted: where the links of the documents
    sent to ``subscriber`` point, whichever instance sends them (not part of the request body)."""


class ExecuteBody(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """An execute request as the client sent it (decoded, typed), before it is checked against
    its process."""

    inputs: dict[str, Any] | None = None
    outputs: dict[str, OutputRequest] | None = None
    response: ResponseMode | None = None  # None: the server's default (raw, as 1.0 says, unless configured)
    subscriber: Subscriber | None = None


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("href"), str)


def decode_fetched(content: bytes, media_type: str, input_id: str) -> Any:
    """The value of a fetched reference: JSON parsed, text decoded, anything else base64."""
    if media_type == "application/json" or media_type.endswith("+json"):
        try:
            return msgspec.json.decode(content)
        except msgspec.DecodeError:
            raise InvalidInput(f"the referenced content is not valid JSON ({media_type})", input_id) from None
    if media_type.startswith("text/"):
        try:
            return content.decode()
        except UnicodeDecodeError:
            raise InvalidInput("the referenced text is not UTF-8", input_id) from None
    return base64.b64encode(content).decode()
