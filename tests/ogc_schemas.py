"""Validating documents against the official OGC API - Processes 1.0 schemas in ../shared.

The schemas are OpenAPI 3.0 schema objects; they are turned into JSON Schema with the same
conversion the domain uses for process inputs. One published quirk is relaxed: the ``oneOf`` of
``inputValueNoObject.yaml`` matches a string twice (``type: string`` and the ``format: byte``
string), so every string result would fail it; it is read as ``anyOf``.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path
from typing import Any

import msgspec
import pytest
import yaml
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from dpr.domain.validation import to_json_schema

ROOT = Path(__file__).resolve().parents[1]
BASE = "https://schemas.opengis.net/ogcapi/processes/part1/1.0/openapi/schemas/"
YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the schemas parse 10x faster


def schema_dir() -> Path | None:
    candidates = [os.environ.get("DPR_OGC_SCHEMAS"), ROOT.parent / "shared" / "ogcapi-processes-1.0" / "schemas"]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c)
    return None


@cache
def _registry() -> Registry:
    folder = schema_dir()
    if folder is None:
        if os.environ.get("CI"):
            pytest.fail("the official OGC schemas (../shared/ogcapi-processes-1.0/schemas) are missing in CI")
        pytest.skip("the official OGC schemas are not beside this checkout (../shared/ogcapi-processes-1.0)")
    registry: Registry = Registry()
    for path in folder.rglob("*.yaml"):
        name = path.relative_to(folder).as_posix()
        schema = to_json_schema(yaml.load(path.read_text(), Loader=YAML_LOADER))
        if name == "inputValueNoObject.yaml":
            schema["anyOf"] = schema.pop("oneOf")
        registry = registry.with_resource(BASE + name, Resource.from_contents(schema, default_specification=_SPEC))
    return registry


from referencing.jsonschema import DRAFT202012 as _SPEC  # noqa: E402


def check(document: Any, schema_name: str) -> None:
    """Fail with the first violation when ``document`` breaks the named official schema."""
    data = msgspec.json.decode(msgspec.json.encode(document)) if not isinstance(document, (dict, list)) else document
    validator = Draft202012Validator({"$ref": BASE + schema_name}, registry=_registry())
    errors = sorted(validator.iter_errors(data), key=lambda e: e.path)
    assert not errors, f"{schema_name}: {errors[0].message} at {list(errors[0].absolute_path)}"
