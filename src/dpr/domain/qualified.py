"""Telling a value from a qualified value: the one rule every reader of inputs and outputs uses.

``{"value": "teststring"}`` is ambiguous: an object value, or the qualified value
``"teststring"``. The careful reading (and what the OGC test suite expects for an object input):
an item that, taken literally, is valid against its schema is the value; only otherwise is it
read as a qualified value (``value`` with ``mediaType``/``encoding``/``schema``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import msgspec

QUALIFIER_KEYS = frozenset({"value", "mediaType", "encoding", "schema"})

Accepts = Callable[[Any], bool]


def looks_qualified(item: Any) -> bool:
    """Shaped like a qualified value: an object with ``value`` and only the qualifier keys."""
    return isinstance(item, dict) and "value" in item and set(item) <= QUALIFIER_KEYS


def read_as_qualified(item: Any, accepts: Accepts) -> bool:
    """Whether ``item`` is a qualified value: shaped like one and not valid as it stands."""
    return looks_qualified(item) and not accepts(item)


def item_value(item: Any, accepts: Accepts) -> Any:
    """The value an item stands for: itself when ``accepts`` it literally, else, when it is a
    qualified value, the value it wraps."""
    return item["value"] if read_as_qualified(item, accepts) else item


def schema_accepts(schema: Mapping[str, Any]) -> Accepts:
    """A predicate telling whether a value is valid against a JSON schema (cached per schema)."""
    return _accepts(msgspec.json.encode(schema, order="sorted"))


@functools.lru_cache(maxsize=512)
def _accepts(schema_json: bytes) -> Accepts:
    from jsonschema import Draft202012Validator, FormatChecker  # when first needed: slow to import

    validator = Draft202012Validator(msgspec.json.decode(schema_json), format_checker=FormatChecker())
    return validator.is_valid
