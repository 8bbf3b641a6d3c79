"""Checking an execute request against a process description and its input schemas."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from dpr.domain.errors import InvalidInput
from dpr.domain.execute import ExecuteBody, ExecuteRequest, ResponseMode, is_reference
from dpr.domain.process import InputDescription, OutputDescription, ProcessDescription, Transmission
from dpr.domain.qualified import item_value, read_as_qualified, schema_accepts


def to_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """An OpenAPI 3.0 schema object (as the standard's process descriptions use) as JSON Schema.

    Handles ``nullable`` and boolean ``exclusiveMinimum``/``exclusiveMaximum``, recursively.
    """
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if isinstance(value, Mapping):
            out[key] = to_json_schema(value)
        elif isinstance(value, list):
            out[key] = [to_json_schema(v) if isinstance(v, Mapping) else v for v in value]
        else:
            out[key] = copy.deepcopy(value)
    if out.pop("nullable", False) is True and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        if isinstance(out.get(bound), bool):
            if out.pop(bound) and limit in out:
                out[bound] = out.pop(limit)
    return out


def is_qualified_output(value: Any, desc: OutputDescription) -> bool:
    """Whether a processor gave this output as a qualified value (``dpr.domain.qualified``)."""
    return read_as_qualified(value, schema_accepts(to_json_schema(desc.schema)))


class RequestValidator:
    """Validates execute requests for one process; build once per process and reuse.

    ``response_default`` is the response mode of a request that names none: ``raw`` in 1.0;
    ``document`` is what Processes 2.0 (and clients following it) expect.
    """

    def __init__(self, process: ProcessDescription, response_default: ResponseMode = ResponseMode.RAW) -> None:
        # Imported when first needed: jsonschema (with its format checkers) takes up to a second
        # to import, which a server's start-up need not wait for.
        from jsonschema import Draft202012Validator, FormatChecker

        self.process, self.response_default = process, response_default
        self._validators = {
            name: Draft202012Validator(to_json_schema(d.schema), format_checker=FormatChecker())
            for name, d in process.inputs.items()
        }

    def check(self, wire: ExecuteBody) -> ExecuteRequest:
        """A validated ``ExecuteRequest``; raises ``InvalidInput`` naming the culprit."""
        return ExecuteRequest(
            inputs=self._inputs(wire.inputs or {}),
            outputs=self._outputs(wire),
            response=wire.response or self.response_default,
            subscriber=wire.subscriber,
        )

    def _inputs(self, given: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(given) - set(self.process.inputs))
        if unknown:
            raise InvalidInput(f"process {self.process.id!r} has no such input", unknown[0])
        inputs: dict[str, Any] = {}
        for name, desc in self.process.inputs.items():
            if name in given:
                inputs[name] = self._input(name, desc, given[name])
            elif desc.required:
                raise InvalidInput("is required but missing", name)
            elif "default" in desc.schema:
                inputs[name] = copy.deepcopy(desc.schema["default"])
        return inputs

    def _input(self, name: str, desc: InputDescription, value: Any) -> Any:
        items = value if desc.many and isinstance(value, list) else [value]
        if len(items) < desc.minOccurs:
            raise InvalidInput(f"needs at least {desc.minOccurs} values, got {len(items)}", name)
        if desc.maxOccurs != "unbounded" and len(items) > desc.maxOccurs:
            raise InvalidInput(f"takes at most {desc.maxOccurs} values, got {len(items)}", name)
        for item in items:
            self._item(name, item)
        return value

    def _item(self, name: str, item: Any) -> None:
        if is_reference(item):
            return  # checked when fetched: the content is not known yet
        if read_as_qualified(item, self._validators[name].is_valid):
            if "mediaType" in item and not isinstance(item["mediaType"], str):
                raise InvalidInput("mediaType must be a string", name)
            item = item["value"]
        self.check_value(name, item)

    def plain_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Valid ``inputs`` with every qualified value replaced by the value it wraps (the
        rule of ``dpr.domain.qualified``); references and literal values stay as they are."""
        plain: dict[str, Any] = {}
        for name, value in inputs.items():
            accepts = self._validators[name].is_valid if name in self._validators else (lambda _: True)
            if name in self.process.inputs and self.process.inputs[name].many and isinstance(value, list):
                plain[name] = [item_value(v, accepts) for v in value]
            else:
                plain[name] = item_value(value, accepts)
        return plain

    def check_value(self, name: str, value: Any) -> None:
        """Raise ``InvalidInput`` if ``value`` breaks the schema of input ``name``."""
        from jsonschema.exceptions import best_match

        error = best_match(self._validators[name].iter_errors(value))
        if error is not None:
            where = "".join(f"[{p!r}]" for p in error.absolute_path)
            raise InvalidInput(f"{error.message}{' at ' + where if where else ''}", name)

    def _outputs(self, wire: ExecuteBody) -> dict[str, Any]:
        outputs = wire.outputs or {}
        for name, out in outputs.items():
            if name not in self.process.outputs:
                raise InvalidInput(f"process {self.process.id!r} has no output {name!r}")
            if out.transmissionMode not in {t.value for t in self.process.outputTransmission}:
                raise InvalidInput(
                    f"output {name!r}: transmissionMode {out.transmissionMode!r} is not offered "
                    f"(offered: {', '.join(self.process.outputTransmission)})"
                )
        return dict(outputs)


__all__ = ["RequestValidator", "to_json_schema", "Transmission"]
