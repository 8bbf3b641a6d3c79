"""The execution form of a process page: one field per input, chosen from the input's schema."""

from __future__ import annotations

from typing import Any, Literal

import msgspec

from dpr.domain.process import InputDescription, ProcessDescription

Kind = Literal["text", "number", "integer", "boolean", "choice", "json"]


class Field(msgspec.Struct, frozen=True, kw_only=True):
    """How the page asks for one input; ``json`` takes any JSON value typed by the user."""

    name: str
    label: str
    kind: Kind
    required: bool
    help: str = ""
    default: str = ""
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    choices: list[tuple[str, str]] = msgspec.field(default_factory=list)  # (JSON value, label)


def form_fields(process: ProcessDescription) -> list[Field]:
    """The fields of the form that executes ``process``, in the order of its inputs."""
    return [_field(name, spec) for name, spec in process.inputs.items()]


def _field(name: str, spec: InputDescription) -> Field:
    schema = spec.schema
    kind = _kind(schema, spec)
    default = schema.get("default")
    base: dict[str, Any] = {
        "name": name,
        "label": spec.title or name,
        "kind": kind,
        "required": spec.required,
        "help": spec.description or "",
        "default": _default_text(default, kind),
    }
    if kind in ("number", "integer"):
        base.update(minimum=_number(schema.get("minimum")), maximum=_number(schema.get("maximum")))
    if kind == "text" and isinstance(schema.get("pattern"), str):
        base["pattern"] = schema["pattern"]
    if kind == "choice":
        base["choices"] = [(msgspec.json.encode(v).decode(), str(v)) for v in schema["enum"]]
    if kind == "json" and not base["help"]:
        base["help"] = "a JSON value matching: " + msgspec.json.encode(schema).decode()
    return Field(**base)


def _kind(schema: dict[str, Any], spec: InputDescription) -> Kind:
    if spec.many:
        return "json"
    if isinstance(schema.get("enum"), list) and schema["enum"]:
        return "choice"
    kinds: dict[Any, Kind] = {"string": "text", "number": "number", "integer": "integer", "boolean": "boolean"}
    return kinds.get(schema.get("type"), "json")


def _default_text(value: Any, kind: Kind) -> str:
    if value is None:
        return ""
    if kind == "text" and isinstance(value, str):
        return value
    if kind == "boolean":
        return "true" if value is True else ""
    return msgspec.json.encode(value).decode()


def _number(value: Any) -> float | None:
    return value if isinstance(value, (int, float)) and not isinstance(value, bool) else None
