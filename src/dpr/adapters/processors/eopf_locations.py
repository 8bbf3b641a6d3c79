"""The locations of an EOPF run, checked on the worker before anything is fetched or run.

The inputs naming locations (``s3_config_dir``, ``s3_report_dir``, the conversion's paths) were
checked at submission; they are checked again here, as a local link or a host's addresses may
have changed since. The payload is a file fetched from the configuration folder, so what it
names (products, ADFs, configuration and secret files, S3 endpoints...) is only known now: every
string in it that names a location must pass the same location policy, else the run fails
naming the field (``io.output_products[0].path``) before EOPF starts.

A string names a location when it is an absolute path, a URL (``scheme://``), an fsspec chain
(``zip::s3://...``) or, under a key that holds paths (``path``, ``folder``, ``*_dir``...), a
relative path: that one must stay inside the run's working directory. EOPF opens these itself,
in its own process, where the address of an http(s) host cannot be pinned: http(s) locations
in a payload (and the conversion's) are refused unless ``security.allow_internal_urls`` is set.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from dpr.adapters.location_policy import check_on_worker
from dpr.adapters.processors import eopf_storage as storage
from dpr.domain.errors import InvalidInput, ProcessorError
from dpr.domain.locations import LocationPolicy

PAYLOAD_FIELD = "payload field"
WRAPPERS = frozenset({"zip", "tar", "simplecache", "filecache", "blockcache"})
"""fsspec protocols a chain may start with: they wrap the location that follows."""
_PATH_KEY = re.compile(
    r"(^|_)(path|paths|folder|folders|dir|dirs|directory|file|files|filename|url|uri|store|root|prefix)$",
    re.IGNORECASE,
)
_LIST_OF_FILES = {"config", "secret", "secrets", "logging"}  # EOPF payload sections listing files
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")
_DPR_SET = ("context_managers", "dask_context", "dask_config")  # replaced by dpr's own Dask context


def check_input(policy: LocationPolicy, field: str, location: str, what: str = "input") -> None:
    """Check an input's location again on the worker (or a payload's, ``what`` then says so);
    ``ProcessorError`` naming ``field``."""
    try:
        check_on_worker(policy, field, location)
    except InvalidInput as e:
        raise ProcessorError(f"{what} {field!r}: {e.reason}") from None


def check_opened_by_eopf(policy: LocationPolicy, field: str, location: str, what: str = "input") -> None:
    """Check a location EOPF opens itself: as ``check_input``, and http(s) only when internal
    hosts are allowed (EOPF resolves the host again: the checked address cannot be pinned)."""
    if _URL.match(location) and location.split(":", 1)[0].lower() in ("http", "https"):
        if not policy.allow_internal_urls:
            raise ProcessorError(
                f"{what} {field!r}: http(s) location {location!r} refused: EOPF opens it itself, where this server "
                "cannot hold it to the address it checked (security.allow_internal_urls allows it)"
            )
    check_input(policy, field, location, what)


def check_payload(
    payload: Mapping[str, Any], policy: LocationPolicy, workdir: Path, env: Mapping[str, str], *, own_dask: bool
) -> None:
    """Raise ``ProcessorError`` naming the first field of ``payload`` whose location the
    policy refuses, or whose relative path leaves ``workdir``. ``own_dask``: the payload keeps
    its own Dask context (the ``payload`` mode), checked too; else dpr's replaces it."""
    root = workdir.resolve()
    for field, text, pathish in payload_locations(payload, skip=() if own_dask else _DPR_SET):
        expanded = storage.expand(text, env)
        if not (pathish or _names_location(expanded.rsplit("::", 1)[-1])):
            continue
        location = _unchained(field, expanded)
        if _names_location(location):
            check_opened_by_eopf(policy, field, location, PAYLOAD_FIELD)
        elif not (root / location).resolve().is_relative_to(root):
            raise ProcessorError(f"{PAYLOAD_FIELD} {field!r}: path {text!r} leaves the run's working directory")


def _names_location(text: str) -> bool:
    return bool(_URL.match(text)) or text.startswith(("/", "~"))


def _unchained(field: str, text: str) -> str:
    """The location an fsspec chain (``zip::s3://b/x.zip``) wraps, when it wraps it only in
    ``WRAPPERS``; ``text`` itself when it is no chain."""
    *wrappers, location = text.split("::")
    for wrapper in wrappers:
        if wrapper.lower() not in WRAPPERS:
            raise ProcessorError(
                f"{PAYLOAD_FIELD} {field!r}: {text!r} chains through {wrapper!r}, which this server does not allow"
            )
    return location


def payload_locations(payload: Any, *, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, str, bool]]:
    """``(field, text, under a path key)`` for every string of ``payload``; top-level
    sections in ``skip`` are left out."""
    yield from _walk(payload, "", False, skip)


def _walk(value: Any, field: str, pathish: bool, skip: tuple[str, ...]) -> Iterator[tuple[str, str, bool]]:
    value = getattr(value, "value", value)  # an EOPF-tagged value (!ZarrCompressor ...)
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not field and key in skip:
                continue
            name = f"{field}.{key}" if field else str(key)
            keyed = bool(_PATH_KEY.search(str(key))) or (not field and key in _LIST_OF_FILES)
            yield from _walk(item, name, keyed, skip)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _walk(item, f"{field}[{i}]", pathish, skip)
    elif isinstance(value, str) and value.strip():
        yield field, value.strip(), pathish
