"""rs-dpr-service's configuration, read as dpr settings: a deployment of the original can point
dpr at the ``geoapi.yaml`` (pygeoapi-style) and the ``POSTGRES_*`` variables it already has.

What is taken from a geoapi.yaml: ``server.bind`` (host, port), ``metadata.identification``
(title, description), ``logging.level``, ``manager.connection`` (the job database) and
``resources.<id>.processor.name`` (which processes exist). ``DPR_ENABLED_PROCESSORS`` keeps the
resources whose processor *name* it lists, as the original did. ``DPR_<SECTION>_<KEY>``
variables still override everything.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from string import Template
from typing import Any

import msgspec
import yaml

from dpr.adapters.catalog import BUILTIN
from dpr.adapters.config import SAFE_LOADER, ConfigError, load_settings
from dpr.adapters.settings import ProcessDefinition, Settings

log = logging.getLogger(__name__)
ENABLED_BY_NAME = "DPR_ENABLED_PROCESSORS"
POSTGRES_KEYS = {
    "host": "POSTGRES_HOST",
    "port": "POSTGRES_PORT",
    "database": "POSTGRES_DB",
    "user": "POSTGRES_USER",
    "password": "POSTGRES_PASSWORD",
}


def load_config(path: str | Path | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from a dpr YAML file or an original geoapi.yaml (told apart by their keys), then
    the environment. When no storage URL is configured anywhere, the original's ``POSTGRES_*``
    variables name the database. Raises ``ConfigError``."""
    env = os.environ if env is None else env
    raw = _peek(path)
    if is_geoapi(raw):
        settings = geoapi_settings(raw, env, str(path))
    else:
        settings = load_settings(path, env)
    if "DPR_STORAGE_URL" in env or _names_storage(raw):
        return settings
    postgres = postgres_url(env)
    if postgres is None:
        return settings
    return msgspec.structs.replace(settings, storage=msgspec.structs.replace(settings.storage, url=postgres))


def is_geoapi(raw: Mapping[str, Any]) -> bool:
    """Whether a parsed configuration is pygeoapi's (dpr's own has neither of these sections)."""
    return "resources" in raw or "manager" in raw


def geoapi_settings(raw: Mapping[str, Any], env: Mapping[str, str], source: str = "geoapi.yaml") -> Settings:
    """dpr settings from a parsed geoapi.yaml (its ``$VAR``/``${VAR}`` taken from ``env``)."""
    doc = _substitute(raw, env, source, "")
    base = load_settings(None, {k: v for k, v in env.items() if k != ENABLED_BY_NAME})
    merged = msgspec.to_builtins(base)
    for section, values in _translate(doc, env).items():
        kept = {k: v for k, v in values.items() if v is not None and f"DPR_{section}_{k}".upper() not in env}
        merged[section] = {**merged[section], **kept}
    try:
        return msgspec.convert(merged, Settings, strict=False)
    except msgspec.ValidationError as e:
        raise ConfigError(f"{source}: {e}") from None


def _translate(doc: Mapping[str, Any], env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    server, meta = _section(doc, "server"), _section(_section(doc, "metadata"), "identification")
    bind = _section(server, "bind")
    definitions = _definitions(_section(doc, "resources"), _enabled_names(env))
    return {
        "server": {
            "host": bind.get("host"),
            "port": bind.get("port"),
            "title": _text(meta.get("title")),
            "description": _text(meta.get("description")),
        },
        "logging": {"level": _text(_section(doc, "logging").get("level"))},
        "storage": {"url": storage_url(_section(doc, "manager"))},
        # ``enabled`` is set even when empty: no definitions must not mean "the built-in ones"
        "processes": {"definitions": msgspec.to_builtins(definitions), "enabled": [d.id for d in definitions]},
    }


def storage_url(manager: Mapping[str, Any]) -> str | None:
    """The job database of a pygeoapi process manager: a PostgreSQL ``connection`` mapping
    (host, port, database, user, password) or a URL; None for anything else (TinyDB...)."""
    connection = manager.get("connection")
    if isinstance(connection, Mapping):
        return postgres_url(
            {var: str(connection[key]) for key, var in POSTGRES_KEYS.items() if connection.get(key) is not None}
        )
    if isinstance(connection, str) and "://" in connection:
        return connection
    if manager:
        log.warning("process manager %r is not a database dpr can use: jobs are kept in memory", manager.get("name"))
    return None


def postgres_url(variables: Mapping[str, str]) -> str | None:
    """The URL the ``POSTGRES_*`` variables name, or None without ``POSTGRES_HOST``."""
    if not variables.get("POSTGRES_HOST", "").strip():
        return None
    from dpr.adapters.sql.engine import url_from_postgres_env  # SQLAlchemy: loaded only when needed

    return url_from_postgres_env(variables)


def _definitions(resources: Mapping[str, Any], enabled: set[str] | None) -> list[ProcessDefinition]:
    """One process per ``type: process`` resource, under the resource's id, run by the dpr
    processor known by the original's processor name (or by a ``module:Class`` name)."""
    builtin = {d.id: d for d in BUILTIN}
    out = []
    for rid, resource in resources.items():
        if not isinstance(resource, Mapping) or resource.get("type", "process") != "process":
            continue
        name = str(_section(resource, "processor").get("name") or rid)
        if enabled is not None and name not in enabled:
            continue
        if name in builtin:
            out.append(msgspec.structs.replace(builtin[name], id=str(rid)))
        elif ":" in name:
            out.append(ProcessDefinition(id=str(rid), processor=name))
        else:
            log.warning("resource %r: no dpr processor implements %r yet; it is not offered", rid, name)
    return out


def _enabled_names(env: Mapping[str, str]) -> set[str] | None:
    if ENABLED_BY_NAME not in env:
        return None
    return {name.strip() for name in env[ENABLED_BY_NAME].split(",") if name.strip()}


def _names_storage(raw: Mapping[str, Any]) -> bool:
    if is_geoapi(raw):
        return bool(_section(raw, "manager").get("connection"))
    return bool(_section(raw, "storage").get("url"))


def _substitute(value: Any, env: Mapping[str, str], source: str, path: str) -> Any:
    """``$VAR`` and ``${VAR}`` in string values, as the original's ``string.Template`` did
    (here after parsing, so a password with YAML-special characters stays one value)."""
    if isinstance(value, Mapping):
        return {k: _substitute(v, env, source, f"{path}.{k}" if path else str(k)) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, env, source, f"{path}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, str):
        return value
    try:
        return Template(value).substitute(env)
    except KeyError as e:
        name = e.args[0]
        raise ConfigError(
            f"{source}: key {path!r} uses ${{{name}}} but the environment variable {name} is not set"
        ) from None
    except ValueError as e:
        raise ConfigError(f"{source}: key {path!r}: {e}") from None


def _peek(path: str | Path | None) -> dict[str, Any]:
    """The file's top level, or {} when it cannot be read (``load_settings`` then says why)."""
    if path is None:
        return {}
    try:
        raw = yaml.load(Path(path).read_text(), Loader=SAFE_LOADER)
    except (OSError, yaml.YAMLError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _section(doc: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = doc.get(name)
    return value if isinstance(value, Mapping) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None
