"""Loading settings: YAML with ``${VAR}``/``${VAR:-default}``, then ``DPR_<SECTION>_<KEY>``
environment overrides. Every mistake names the file, the key and the variable."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import msgspec
import yaml

from dpr.adapters.settings import Settings

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_LIST_KEYS: set[tuple[str, ...]] = {
    ("processes", "enabled"),
    ("server", "cors_origins"),
    ("server", "trusted_hosts"),
    ("locations", "allow"),
    ("auth", "methods"),
    ("auth", "oidc", "algorithms"),
}


SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""PyYAML's safe loader on libyaml's parser when PyYAML has it (its wheels do): the same
documents and types, parsed about ten times faster."""


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and why."""


def _substitute(value: Any, env: Mapping[str, str], source: str, path: str) -> Any:
    if isinstance(value, dict):
        return {k: _substitute(v, env, source, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, source, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value

    def repl(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        raise ConfigError(f"{source}: key {path!r} uses ${{{name}}} but the environment variable {name} is not set")

    whole = _VAR.fullmatch(value)
    out = _VAR.sub(repl, value)
    if whole and whole.group(2) is not None and out == whole.group(2):
        return yaml.load(out, Loader=SAFE_LOADER) if out else None  # a default like ${X:-8000} keeps its YAML type
    return out


def _overrides(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    sections = {f.name: f.type for f in msgspec.structs.fields(Settings)}
    for section, section_type in sections.items():
        found = _section_overrides(env, (section,), section_type)
        if found:
            out[section] = found
    if "DPR_ENABLED_PROCESSORS" in env:  # the original rs-dpr-service's variable
        enabled = [p.strip() for p in env["DPR_ENABLED_PROCESSORS"].split(",") if p.strip()]
        out.setdefault("processes", {})["enabled"] = enabled
    return out


def _section_overrides(env: Mapping[str, str], path: tuple[str, ...], section_type: Any) -> dict[str, Any]:
    """``DPR_<SECTION>_<KEY>`` for each key of a section, ``DPR_<SECTION>_<SUB>_<KEY>`` for
    the keys of a section within it (``DPR_AUTH_OIDC_ISSUER``)."""
    out: dict[str, Any] = {}
    for field in msgspec.structs.fields(section_type):
        where = (*path, field.name)
        if isinstance(field.type, type) and issubclass(field.type, msgspec.Struct):
            inner = _section_overrides(env, where, field.type)
            if inner:
                out[field.name] = inner
            continue
        name = "DPR_" + "_".join(where).upper()
        if name in env:
            raw: Any = env[name]
            if where in _LIST_KEYS:
                raw = [item.strip() for item in raw.split(",") if item.strip()]
            out[field.name] = raw
    return out


def _merge(base: dict[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_settings(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``path`` (or the built-in defaults) plus environment overrides.

    Raises ``ConfigError`` naming the file, key and variable at fault.
    """
    env = os.environ if env is None else env
    source = str(path) if path else "<defaults>"
    raw: dict[str, Any] = {}
    if path is not None:
        try:
            text = Path(path).read_text()
        except OSError as e:
            raise ConfigError(f"{source}: cannot read the configuration file: {e.strerror}") from None
        try:
            raw = yaml.load(text, Loader=SAFE_LOADER) or {}
        except yaml.YAMLError as e:
            raise ConfigError(f"{source}: not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise ConfigError(f"{source}: the top level must be a mapping of sections")
        raw = _substitute(raw, env, source, "")
    raw = _merge(raw, _overrides(env))
    try:
        return msgspec.convert(raw, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{source}: {_explain(e)}") from None


def _explain(error: msgspec.ValidationError) -> str:
    text = str(error)
    match = re.match(r"(.*) - at `\$\.?(.*)`", text)
    reason, where = match.groups() if match else (text, "")  # no location: the top level
    unknown = re.match(r"Object contains unknown field `(.*)`", reason)
    if unknown:
        key = f"{where}.{unknown.group(1)}" if where else unknown.group(1)
        return f"unknown key {key!r}"
    return f"key {where!r}: {reason}" if match else text


def redacted(settings: Settings) -> dict[str, Any]:
    """The settings as a dict with passwords in URLs hidden, safe to print or log."""
    data = msgspec.to_builtins(settings)
    data["storage"]["url"] = redact_url(settings.storage.url)
    if settings.executor.address:
        data["executor"]["address"] = redact_url(settings.executor.address)
    if settings.auth.oidc.issuer:
        data["auth"]["oidc"]["issuer"] = redact_url(settings.auth.oidc.issuer)
    return data


def redact_url(url: str) -> str:
    """``scheme://user:***@host/...`` for a URL with a password; other URLs unchanged."""
    return re.sub(r"(://[^:/@]+:)[^@]*@", r"\1***@", url)
