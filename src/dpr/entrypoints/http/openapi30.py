"""Turning the OpenAPI 3.1 document Litestar generates into OpenAPI 3.0.3 (the ``oas30`` class).

Pure and structure-aware: only Schema Objects are rewritten, so a property that happens to be
called ``const`` or a media type's ``examples`` map are left alone.
"""

from __future__ import annotations

import copy
from typing import Any

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")
ONLY_31 = frozenset({
    "$schema", "$id", "$defs", "$comment", "$anchor", "$dynamicRef", "$dynamicAnchor", "prefixItems",
    "contains", "minContains", "maxContains", "patternProperties", "propertyNames", "unevaluatedProperties",
    "unevaluatedItems", "dependentRequired", "dependentSchemas", "if", "then", "else", "contentMediaType",
    "contentEncoding", "contentSchema",
})  # fmt: skip
SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def to_openapi30(document: dict[str, Any]) -> dict[str, Any]:
    """A 3.0.3 copy of a 3.1 document (``document`` is not changed)."""
    doc = copy.deepcopy(document)
    doc["openapi"] = "3.0.3"
    doc.pop("webhooks", None)
    doc.pop("jsonSchemaDialect", None)
    info = doc.setdefault("info", {})
    info.pop("summary", None)
    if isinstance(info.get("license"), dict):
        info["license"].pop("identifier", None)
    components = doc.get("components", {})
    components.pop("pathItems", None)
    for name, schema in list(components.get("schemas", {}).items()):
        components["schemas"][name] = schema_30(schema)
    for param in components.get("parameters", {}).values():
        _with_schema(param)
    for header in components.get("headers", {}).values():
        _with_schema(header)
    for response in components.get("responses", {}).values():
        _response(response)
    for body in components.get("requestBodies", {}).values():
        _content(body)
    for item in doc.setdefault("paths", {}).values():
        _path_item(item)
    return doc


def schema_30(schema: Any) -> Any:
    """One Schema Object in its 3.0 form."""
    if schema is True:
        return {}
    if schema is False:
        return {"not": {}}
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        rest = {k: v for k, v in schema.items() if k not in ("$ref", "summary")}
        return {"allOf": [{"$ref": schema["$ref"]}], **schema_30(rest)} if rest else {"$ref": schema["$ref"]}
    out = {k: v for k, v in schema.items() if k not in ONLY_31}
    _types(out)
    _keywords(out)
    _children(out)
    for key in SUBSCHEMA_LISTS:
        if key in out:
            _drop_null_branch(out, key)
    return out


def _types(s: dict[str, Any]) -> None:
    kind = s.get("type")
    if kind == "null":
        s.pop("type")
        s.update(nullable=True, enum=[None])
    elif isinstance(kind, list):
        types = [t for t in kind if t != "null"]
        if len(types) < len(kind):
            s["nullable"] = True
        if len(types) == 1:
            s["type"] = types[0]
        else:
            s.pop("type")
            if types:
                s.setdefault("anyOf", []).extend({"type": t} for t in types)


def _keywords(s: dict[str, Any]) -> None:
    if s.get("required") == []:  # 3.0 wants at least one name
        s.pop("required")
    if "const" in s:
        s["enum"] = [s.pop("const")]
    if "examples" in s:
        examples = s.pop("examples")
        if isinstance(examples, list) and examples:
            s.setdefault("example", examples[0])
    for bound, limit in (("exclusiveMinimum", "minimum"), ("exclusiveMaximum", "maximum")):
        value = s.get(bound)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            s[limit], s[bound] = value, True


def _children(s: dict[str, Any]) -> None:
    if isinstance(s.get("properties"), dict):
        s["properties"] = {name: schema_30(sub) for name, sub in s["properties"].items()}
    if isinstance(s.get("additionalProperties"), dict):
        s["additionalProperties"] = schema_30(s["additionalProperties"])
    if "items" in s:
        s["items"] = schema_30(s["items"]) if not isinstance(s["items"], list) else {}
    if "not" in s:
        s["not"] = schema_30(s["not"])
    for key in SUBSCHEMA_LISTS:
        if isinstance(s.get(key), list):
            s[key] = [schema_30(sub) for sub in s[key]]


def _drop_null_branch(s: dict[str, Any], key: str) -> None:
    """``oneOf: [X, {nullable, enum: [null]}]`` (a 3.1 optional) becomes X with ``nullable``."""
    branches = s[key]
    rest = [b for b in branches if not _is_null(b)]
    if len(rest) == len(branches):
        return
    s["nullable"] = True
    if len(rest) != 1:
        s[key] = rest
        return
    s.pop(key)
    only = rest[0]
    if "$ref" in only or any(k in s for k in only):
        s.setdefault("allOf", []).append(only)
    else:
        s.update(only)


def _is_null(s: Any) -> bool:
    return isinstance(s, dict) and s.get("enum") == [None] and s.get("nullable") is True


def _path_item(item: dict[str, Any]) -> None:
    for param in item.get("parameters", []):
        _with_schema(param)
    for method in METHODS:
        operation = item.get(method)
        if isinstance(operation, dict):
            for param in operation.get("parameters", []):
                _with_schema(param)
            if isinstance(operation.get("requestBody"), dict):
                _content(operation["requestBody"])
            for response in operation.get("responses", {}).values():
                _response(response)
            for callback in operation.get("callbacks", {}).values():
                for cb_item in callback.values():
                    _path_item(cb_item)


def _response(response: dict[str, Any]) -> None:
    _content(response)
    for header in response.get("headers", {}).values():
        _with_schema(header)


def _content(holder: dict[str, Any]) -> None:
    for media in holder.get("content", {}).values():
        _with_schema(media)


def _with_schema(holder: dict[str, Any]) -> None:
    if "schema" in holder:
        holder["schema"] = schema_30(holder["schema"])
    _content(holder)
