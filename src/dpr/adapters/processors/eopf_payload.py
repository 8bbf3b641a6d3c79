"""EOPF triggering payloads: reading, rewriting for a dpr run, and what their runs print.

Pure functions on the payload as parsed YAML. Rewriting follows rs-dpr-service: the Dask context
is replaced so EOPF computes on the cluster the job runs on (or a local one), the caller's
``experimental_config`` is applied, and progress logging is switched on so the job can show it.
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec
import yaml

DASK_MODULE = "eopf.dask_utils.dask_context_manager"
SECRET_KEYS = re.compile(r"(^|_)(key|secret|password|token|api_token|credentials?)$", re.IGNORECASE)
_PROGRESS = re.compile(r"(?:Workflow progress|Progress):\s*(\d{1,3})%(?:\s*-\s*(.*))?")
_PERCENT_ONLY = re.compile(r"::\s*(\d{1,3})%\s*$")
_REPORT = "Workflow execution report"


class DaskPlan(msgspec.Struct, frozen=True, kw_only=True):
    """Where EOPF computes: ``address`` (a running scheduler), ``local`` (a LocalCluster inside
    the EOPF process, ``cluster_config`` its options), ``none`` (no cluster) or ``payload``
    (whatever the payload says). ``dask_config`` goes to the payload's ``dask_config``."""

    kind: str
    address: str | None = None
    cluster_config: dict[str, Any] = msgspec.field(default_factory=dict)
    dask_config: dict[str, Any] = msgspec.field(default_factory=dict)
    reason: str | None = None

    def describe(self) -> str:
        what = {
            "address": f"the job's Dask cluster {self.address}",
            "local": "a LocalCluster of its own",
            "none": "no Dask cluster",
            "payload": "the Dask context its payload gives",
        }.get(self.kind, self.kind)
        return f"EOPF computes on {what}" + (f" ({self.reason})" if self.reason else "")


class OutputProduct(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One output product a payload declares (``io.output_products``)."""

    id: str
    path: str
    type: str = "file"
    engine: str | None = None


class Progress(msgspec.Struct, frozen=True, kw_only=True):
    percent: int
    message: str | None = None


class _Tagged:
    """A value with an EOPF-specific YAML tag (``!ZarrCompressor``...), kept as it was."""

    def __init__(self, tag: str, value: Any) -> None:
        self.tag, self.value = tag, value

    def __repr__(self) -> str:
        return f"{self.tag} {self.value!r}"


# The base is chosen at run time (mypy cannot follow that).
class _Loader(yaml.CSafeLoader if yaml.__with_libyaml__ else yaml.SafeLoader):  # type: ignore[misc]
    """The safe loader (on libyaml's parser when PyYAML has it: ten times faster), keeping tags."""


class _Dumper(yaml.SafeDumper):
    pass


def _construct_tagged(loader: yaml.constructor.SafeConstructor, suffix: str, node: yaml.Node) -> _Tagged:
    if isinstance(node, yaml.MappingNode):
        return _Tagged(node.tag, loader.construct_mapping(node, deep=True))
    if isinstance(node, yaml.SequenceNode):
        return _Tagged(node.tag, loader.construct_sequence(node, deep=True))
    return _Tagged(node.tag, loader.construct_scalar(node))  # type: ignore[arg-type]


def _represent_tagged(dumper: yaml.SafeDumper, data: _Tagged) -> yaml.Node:
    if isinstance(data.value, dict):
        return dumper.represent_mapping(data.tag, data.value)
    if isinstance(data.value, list):
        return dumper.represent_sequence(data.tag, data.value)
    return dumper.represent_scalar(data.tag, str(data.value))


_Loader.add_multi_constructor("!", _construct_tagged)
_Dumper.add_representer(_Tagged, _represent_tagged)


def load_payload(text: str) -> dict[str, Any]:
    """The payload as a dict; raises ``ValueError`` when it is not a YAML/JSON mapping."""
    try:
        payload = yaml.load(text, Loader=_Loader)
    except yaml.YAMLError as e:
        raise ValueError(f"the payload is not valid YAML: {e}") from None
    if not isinstance(payload, dict):
        raise ValueError("the payload is not a YAML mapping")
    return payload


def dump_payload(payload: Mapping[str, Any]) -> str:
    return yaml.dump(dict(payload), Dumper=_Dumper, sort_keys=False, allow_unicode=True)


_PLAIN = {"oneOf": [{"type": "string"}, {"type": "number"}, {"type": "boolean"}]}
LOCAL_CLUSTER_KEYS = {"enabled": {"type": "boolean"}, "n_workers": {"type": "integer", "minimum": 1}}
LOCAL_CLUSTER_KEYS |= {
    "threads_per_worker": {"type": "integer", "minimum": 1},
    "memory_limit": {"anyOf": [{"type": "string", "nullable": True}, {"type": "integer"}]},
    "processes": {"type": "boolean"},
}
EXPERIMENTAL_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "general_configuration": {"type": "object", "additionalProperties": _PLAIN},
        "local_cluster": {"type": "object", "additionalProperties": False, "properties": LOCAL_CLUSTER_KEYS},
        "local_files": {"description": "Accepted and ignored: downloading the inputs first is not supported."},
    },
}
"""What a client may merge into a payload: plain general settings and the LocalCluster switch;
never anything EOPF imports or instantiates (``context_managers``, workflow ``module``s,
LocalCluster classes, Dask preloads) nor locations (``io``)."""


def check_experimental(experimental: Mapping[str, Any]) -> None:
    """Raise ``ValueError`` when ``experimental`` goes beyond ``EXPERIMENTAL_SCHEMA`` (checked
    again on the worker: the schema is enforced at submission)."""
    allowed = EXPERIMENTAL_SCHEMA["properties"]
    for key, value in experimental.items():
        if key not in allowed:
            raise ValueError(f"experimental_config may not set {key!r} (allowed: {', '.join(allowed)})")
        if key == "local_cluster" and isinstance(value, Mapping):
            extra = sorted(set(value) - set(LOCAL_CLUSTER_KEYS))
            if extra:
                raise ValueError(f"experimental_config.local_cluster may not set {extra[0]!r}")
        if key == "general_configuration" and isinstance(value, Mapping):
            if any(isinstance(v, (Mapping, list)) for v in value.values()):
                raise ValueError("experimental_config.general_configuration takes plain values only")


def prepare(
    payload: Mapping[str, Any], plan: DaskPlan, experimental: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """A copy of ``payload`` ready for a dpr run: ``experimental`` merged in, the Dask context
    set by ``plan`` (``experimental.local_cluster.enabled`` turns it into a LocalCluster, as in
    the original), progress logging on, and no wait before exit unless the payload asks.
    Raises ``ValueError`` when ``experimental`` sets what it may not (``check_experimental``)."""
    check_experimental(experimental or {})
    extra = {k: v for k, v in (experimental or {}).items() if k not in ("local_cluster", "local_files")}
    out = deep_merge(copy.deepcopy(dict(payload)), extra)  # local_files (download to disk first): not supported
    set_dask_context(out, effective_plan(plan, experimental))
    general = out.setdefault("general_configuration", {})
    general.setdefault("triggering__wait_before_exit", 0)
    general["triggering__progress_logging"] = True
    general["logging__progress_format"] = "FULL"
    if (
        not any(k in general for k in ("triggering__use_basic_logging", "triggering__load_default_logging"))
        and "logging" not in out
    ):
        general["triggering__use_basic_logging"] = True  # else EOPF prints nothing to follow
    return out


def effective_plan(plan: DaskPlan, experimental: Mapping[str, Any] | None) -> DaskPlan:
    """``plan``, unless ``experimental.local_cluster.enabled`` asks for a LocalCluster."""
    local = (experimental or {}).get("local_cluster")
    if not (isinstance(local, Mapping) and local.get("enabled")):
        return plan
    options = {k: v for k, v in local.items() if k != "enabled" and v is not None}
    return DaskPlan(
        kind="local", cluster_config={"threads_per_worker": 1, **options}, reason="experimental_config.local_cluster"
    )


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with ``extra`` merged in: mappings recursively, anything else replaced."""
    merged = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def set_dask_context(payload: dict[str, Any], plan: DaskPlan) -> None:
    """Replace the payload's Dask context (``context_managers`` entry of EOPF 3, or the legacy
    top-level ``dask_context`` of EOPF 2 payloads) with the one ``plan`` describes."""
    if plan.kind == "payload":
        return
    legacy = "dask_context" in payload and "context_managers" not in payload
    payload.pop("dask_context", None)
    managers = [m for m in payload.get("context_managers") or [] if not _is_dask(m)]
    parameters = _dask_parameters(plan)
    if parameters is not None and legacy:
        payload["dask_context"] = parameters
    elif parameters is not None:
        managers.insert(0, {"module": DASK_MODULE, "context_manager": "DaskContext", "parameters": parameters})
    if managers:
        payload["context_managers"] = managers
    else:
        payload.pop("context_managers", None)
    if plan.dask_config:
        payload["dask_config"] = deep_merge(payload.get("dask_config") or {}, plan.dask_config)


def _is_dask(manager: Any) -> bool:
    return isinstance(manager, Mapping) and manager.get("module") == DASK_MODULE


def _dask_parameters(plan: DaskPlan) -> dict[str, Any] | None:
    if plan.kind == "address":
        # auto_gc off: EOPF would install a worker plugin on a cluster it does not own
        return {"cluster_type": "address", "client_config": {"address": plan.address}, "auto_gc": False}
    if plan.kind == "local":
        return {"cluster_type": "local", "cluster_config": dict(plan.cluster_config)}
    if plan.kind == "none":
        return None
    raise ValueError(f"unknown Dask plan {plan.kind!r}: address, local, none or payload")


def declared_outputs(payload: Mapping[str, Any]) -> list[OutputProduct]:
    """The output products the payload declares, in order (``io`` or the older ``I/O``)."""
    io = payload.get("io") or payload.get("I/O") or {}
    out = []
    for entry in io.get("output_products") or []:
        if isinstance(entry, Mapping) and entry.get("id") and entry.get("path"):
            engine = entry.get("engine") or entry.get("store_type")
            out.append(
                OutputProduct(
                    id=str(entry["id"]),
                    path=str(entry["path"]),
                    type=str(entry.get("type", "file")),
                    engine=None if engine is None else str(engine),
                )
            )
    return out


def parse_progress(line: str) -> Progress | None:
    """The workflow progress an EOPF log line reports ("Workflow progress: 45% - running unit
    1/2: name", or just "45%" in EOPF's PERCENTAGE format), else None."""
    found = _PROGRESS.search(line)
    if found is not None:
        message = found.group(2).strip() if found.group(2) else None
        return Progress(percent=min(int(found.group(1)), 100), message=message)
    alone = _PERCENT_ONLY.search(line)
    return None if alone is None else Progress(percent=min(int(alone.group(1)), 100))


def parse_report(line: str) -> dict[str, Any] | None:
    """The JSON execution report EOPF logs at the end of a run (its written products), else None."""
    if _REPORT not in line:
        return None
    start = line.find("{")
    try:
        report = json.loads(line[start:]) if start >= 0 else None
    except ValueError:
        return None
    return report if isinstance(report, dict) and report.get("message") == _REPORT else None


def secret_values(payload: Any) -> list[str]:
    """Values stored under secret-looking keys (``key``, ``secret``, ``api_token``...)."""
    found: list[str] = []
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            if SECRET_KEYS.search(str(key)) and isinstance(value, str):
                found.append(value)
            else:
                found.extend(secret_values(value))
    elif isinstance(payload, list):
        for value in payload:
            found.extend(secret_values(value))
    elif isinstance(payload, _Tagged):
        found.extend(secret_values(payload.value))
    return found


def imported_modules(payload: Any, field: str = "") -> list[tuple[str, str]]:
    """``(field, module)`` for every ``module`` the payload names at any depth (workflow units,
    context managers, anything else EOPF imports by name), in document order."""
    found: list[tuple[str, str]] = []
    if isinstance(payload, Mapping):
        for key, value in payload.items():
            where = f"{field}.{key}" if field else str(key)
            if key == "module":
                found.append((where, str(value)))
            else:
                found.extend(imported_modules(value, where))
    elif isinstance(payload, list):
        for index, value in enumerate(payload):
            found.extend(imported_modules(value, f"{field}[{index}]"))
    return found


def refused_module(payload: Any, packages: frozenset[str]) -> tuple[str, str] | None:
    """The first ``(field, module)`` whose top-level package is not in ``packages`` (``*``
    allows any), or ``None``: a client's payload must not make EOPF import what the deployment
    did not install for it (``subprocess``, ``os``, another package's code)."""
    if "*" in packages:
        return None
    for field, module in imported_modules(payload):
        if module.split(".")[0] not in packages:
            return field, module
    return None
