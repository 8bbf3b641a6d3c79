"""Moving an EOPF run's files: the payload folder in, the reports out, outputs checked.

A location is an fsspec URL (``s3://bucket/prefix``) or a local path / ``file://`` URL. S3
credentials come from the run's own environment (never the worker's): ``AWS_ACCESS_KEY_ID``,
``AWS_SECRET_ACCESS_KEY``, ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``
(or the original service's ``S3_ACCESSKEY``, ``S3_SECRETKEY``, ``S3_ENDPOINT``, ``S3_REGION``).
http(s) locations connect only to public addresses checked as they connect (``guarded_fsspec``)
unless ``allow_internal`` (the service's ``security.allow_internal_urls``).
"""

from __future__ import annotations

import os
import re
import shutil
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import fsspec

from dpr.domain.errors import ProcessorError

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)")


def s3_options(env: Mapping[str, str]) -> dict[str, Any]:
    """s3fs options from the run's environment; empty values are left out."""
    key = env.get("AWS_ACCESS_KEY_ID") or env.get("S3_ACCESSKEY")
    secret = env.get("AWS_SECRET_ACCESS_KEY") or env.get("S3_SECRETKEY")
    endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or env.get("S3_ENDPOINT")
    region = env.get("AWS_DEFAULT_REGION") or env.get("AWS_REGION") or env.get("S3_REGION")
    options: dict[str, Any] = {"skip_instance_cache": True}  # credentials differ per run
    if key and secret:
        options.update(key=key, secret=secret)
    if endpoint:
        options["endpoint_url"] = endpoint
    if region:
        options["client_kwargs"] = {"region_name": region}
    return options


def is_remote(location: str) -> bool:
    scheme = urlsplit(location).scheme
    return len(scheme) > 1 and scheme != "file"  # one letter is a Windows drive


def local_path(location: str) -> Path:
    return Path(urlsplit(location).path if location.startswith("file://") else location)


def _fs(location: str, env: Mapping[str, str], allow_internal: bool) -> tuple[Any, str]:
    scheme = urlsplit(location).scheme.lower()
    options: dict[str, Any] = {}
    if scheme in ("s3", "s3a"):
        options = s3_options(env)
    elif scheme in ("http", "https"):
        from dpr.adapters.guarded_fsspec import http_options  # aiohttp: loaded for http(s) locations only

        options = http_options(allow_internal=allow_internal)
    try:
        return fsspec.core.url_to_fs(location, **options)
    except (ImportError, ValueError) as e:
        raise ProcessorError(f"cannot reach {location}: {e}") from None


def fetch_folder(
    location: str, dest: Path, env: Mapping[str, str], max_bytes: int | None = None, *, allow_internal: bool = False
) -> list[str]:
    """Copy the folder at ``location`` (its content) into ``dest``; what was left out (see
    ``copy_tree``). Raises ``ProcessorError``, also when the folder holds more than ``max_bytes``."""
    try:
        if not is_remote(location):
            return copy_tree(local_path(location), dest, max_bytes)
        fs, path = _fs(location, env, allow_internal)
        if not fs.isdir(path):
            raise ProcessorError(f"the configuration folder {location} does not exist")
        if max_bytes is not None and fs.du(path, total=True) > max_bytes:
            raise ProcessorError(f"the configuration folder {location} holds more than {max_bytes} bytes")
        if urlsplit(location).scheme.lower() in ("http", "https"):
            _get_listed(fs, path, dest)  # fsspec's recursive get takes an http folder for a file
        else:
            fs.get(path.rstrip("/") + "/", str(dest) + "/", recursive=True)
        return []
    except ProcessorError:
        raise
    except (OSError, ValueError) as e:
        raise ProcessorError(f"cannot fetch the configuration folder {location}: {_reason(e)}") from None


def _get_listed(fs: Any, path: str, dest: Path) -> None:
    """Fetch the files an http(s) folder's index page links to, below the folder."""
    root = path.rstrip("/") + "/"
    dest.mkdir(parents=True, exist_ok=True)
    for url in fs.find(root):
        relative = Path(url.removeprefix(root))
        if url.startswith(root) and relative.parts and ".." not in relative.parts:
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            fs.get_file(url, str(dest / relative))


def copy_tree(src: Path, dest: Path, max_bytes: int | None = None) -> list[str]:
    """Copy the regular files under ``src`` into ``dest``, never following a symbolic link
    that leaves ``src`` nor one to a folder, skipping devices, FIFOs and sockets; the relative
    paths of what was skipped. Raises ``ProcessorError`` past ``max_bytes``."""
    root = src.resolve(strict=True)
    if not root.is_dir():
        raise ProcessorError(f"the configuration folder {src} is not a folder")
    skipped, total = [], 0
    for folder, dirs, files in os.walk(root):  # does not descend into linked folders
        here = Path(folder)
        for name in [d for d in dirs if (here / d).is_symlink()] + files:
            entry = here / name
            relative = entry.relative_to(root)
            target = entry.resolve()
            if not target.is_relative_to(root) or not target.exists() or not stat.S_ISREG(target.stat().st_mode):
                skipped.append(str(relative))
                continue
            total += target.stat().st_size
            if max_bytes is not None and total > max_bytes:
                raise ProcessorError(f"the configuration folder {src} holds more than {max_bytes} bytes")
            (dest / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(target, dest / relative)
    return skipped


def upload_folder(src: Path, location: str, env: Mapping[str, str], *, allow_internal: bool = False) -> list[str]:
    """Copy the files under ``src`` into the folder at ``location``, never overwriting a file
    already there; the relative paths left out because they existed. Raises ``ProcessorError``."""
    kept: list[str] = []
    try:
        remote = is_remote(location)
        fs, base = (
            _fs(location, env, allow_internal) if remote else (fsspec.filesystem("file"), str(local_path(location)))
        )
        for file in sorted(p for p in src.rglob("*") if p.is_file() and not p.is_symlink()):
            relative = file.relative_to(src).as_posix()
            target = f"{base.rstrip('/')}/{relative}"
            if fs.exists(target):
                kept.append(relative)
                continue
            if not remote:
                Path(target).parent.mkdir(parents=True, exist_ok=True)
            fs.put_file(str(file), target)
    except (OSError, ValueError) as e:
        raise ProcessorError(f"cannot upload the reports to {location}: {_reason(e)}") from None
    return kept


def exists(location: str, env: Mapping[str, str], *, allow_internal: bool = False) -> bool:
    if not is_remote(location):
        return local_path(location).exists()
    fs, path = _fs(location, env, allow_internal)
    try:
        return bool(fs.exists(path))
    except (OSError, ValueError):
        return False


def resolve(path: str, workdir: Path, env: Mapping[str, str]) -> str:
    """A payload path as EOPF will use it: variables expanded from the run's environment,
    relative paths taken from the working directory, EOPF's ``zip::`` style prefixes dropped."""
    expanded = expand(path, env).rsplit("::", 1)[-1]
    if is_remote(expanded) or os.path.isabs(expanded) or expanded.startswith("file://"):
        return expanded
    return str((workdir / expanded).resolve())


def expand(text: str, env: Mapping[str, str]) -> str:
    """``text`` with ``$VAR`` and ``${VAR}`` replaced from the run's environment (as EOPF does)."""
    return _VAR.sub(lambda m: env.get(m.group(1) or m.group(2), m.group(0)), text)


def _reason(error: Exception) -> str:
    return f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
