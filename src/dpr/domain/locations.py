"""Where processors may read and write: the location policy.

A location is an input naming a folder or file a processor reads or writes (an EOPF payload
folder, a reports folder, a product). A process marks such inputs with the schema format
``dpr-location``; the service checks every one at submission against the deployment's allowed
prefixes (and the process's own, when configured), so a refused location is a 400 naming the
input, never a failed run.

A prefix is a URL: ``s3://bucket/prefix`` (``s3://`` for any bucket), ``file:///data/eopf``
(a local root) or ``https://host/path``. A location is allowed when it lies under a prefix of
its scheme, segment by segment, after ``.`` and ``..`` are resolved; S3 and HTTP locations
with ``..`` segments are refused outright (stores do not resolve them alike), and so are
fsspec's chained URLs (``a::b``).

Locations a processor only learns on the worker (those an EOPF payload file names) cannot be
checked at submission: the processor checks them against the same rules (``LocationPolicy``)
before it starts its work, and fails the run naming the field.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import msgspec

from dpr.domain.errors import InvalidInput
from dpr.domain.process import ProcessDescription

LOCATION_FORMAT = "dpr-location"
"""The JSON schema ``format`` of inputs that name a location."""

DEFAULT_ALLOW = ("s3://",)
SCHEMES = {"s3": "s3", "s3a": "s3", "file": "file", "http": "http", "https": "https"}


class Location(msgspec.Struct, frozen=True, kw_only=True):
    """A location in a comparable form: ``scheme`` (s3, file, http, https), ``authority``
    (the bucket or host, empty for files) and a normalised absolute ``path``."""

    scheme: str
    authority: str
    path: str

    def under(self, prefix: Location) -> bool:
        """Whether this location is ``prefix`` itself or lies inside it."""
        if self.scheme != prefix.scheme or (prefix.authority and self.authority != prefix.authority):
            return False
        root = prefix.path.rstrip("/")
        return root == "" or self.path == root or self.path.startswith(root + "/")

    def __str__(self) -> str:
        if self.scheme == "file":
            return self.path
        return f"{self.scheme}://{self.authority}{self.path}"


class LocationRules(msgspec.Struct, frozen=True, kw_only=True):
    """The prefixes locations must lie under (see the module's docstring)."""

    allow: tuple[str, ...] = DEFAULT_ALLOW

    def prefixes(self) -> list[Location]:
        return [parse_location(p, allow_any_authority=True) for p in self.allow]


class LocationPolicy(msgspec.Struct, frozen=True, kw_only=True):
    """What a processor may use on the worker, where locations it reads from a file (an EOPF
    payload names its products) are checked when the run starts: every one of ``rules``
    must allow a location, and http(s) hosts must be public unless ``allow_internal_urls``.
    It travels with the work order; the default is the deployment default (any S3 bucket)."""

    rules: tuple[LocationRules, ...] = (LocationRules(),)
    allow_internal_urls: bool = False


def parse_location(text: str, *, allow_any_authority: bool = False) -> Location:
    """``text`` as a ``Location``; raises ``ValueError`` saying why it is not one."""
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in text):
        raise ValueError("contains control characters")
    if "::" in text:
        raise ValueError("may not chain filesystems ('::')")
    if text.startswith("/"):
        return Location(scheme="file", authority="", path=_normpath(text))
    try:
        parts = urlsplit(text)
    except ValueError as e:
        raise ValueError(f"is not a valid URL ({e})") from None
    scheme = SCHEMES.get(parts.scheme.lower())
    if scheme is None:
        raise ValueError("must be an absolute path or an s3://, file://, http:// or https:// URL")
    if scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ValueError("must be a file:///absolute/path URL")
        return Location(scheme="file", authority="", path=_normpath(parts.path))
    if not parts.netloc and not allow_any_authority:
        raise ValueError(f"names no {'bucket' if scheme == 's3' else 'host'}")
    if ".." in parts.path.split("/"):
        raise ValueError("may not contain '..' segments")
    return Location(scheme=scheme, authority=parts.netloc.lower(), path="/" + parts.path.strip("/"))


def _normpath(path: str) -> str:
    normal = posixpath.normpath(path)
    return "/" + normal.lstrip("/")  # POSIX keeps a leading "//"


def location_inputs(process: ProcessDescription) -> list[str]:
    """The ids of ``process``'s inputs that name locations."""
    return [name for name, d in process.inputs.items() if d.schema.get("format") == LOCATION_FORMAT]


def locations_in(process: ProcessDescription, inputs: Mapping[str, Any]) -> list[tuple[str, str]]:
    """``(input id, location)`` for every location given in ``inputs`` (plain values: qualified
    ones already unwrapped, as the processor gets them); empty strings and nulls name none."""
    found = []
    for name in location_inputs(process):
        values = inputs.get(name)
        for item in values if isinstance(values, list) else [values]:
            if isinstance(item, str) and item.strip():
                found.append((name, item.strip()))
    return found


def check_location(text: str, field: str, rules: Sequence[LocationRules]) -> Location:
    """The location ``text`` names, when every one of ``rules`` allows it; else ``InvalidInput``
    naming ``field`` (the input) and why."""
    try:
        location = parse_location(text)
    except ValueError as e:
        raise InvalidInput(f"location {text!r} {e}", field) from None
    for rule in rules:
        prefixes = rule.prefixes()
        if not any(location.under(p) for p in prefixes):
            allowed = ", ".join(rule.allow) or "none"
            raise InvalidInput(f"location {text!r} is not allowed on this server (allowed: {allowed})", field)
    return location
