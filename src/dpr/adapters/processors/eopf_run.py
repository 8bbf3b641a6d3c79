"""One EOPF run on a worker: its private folder, what it prints, what it wrote.

The run's folder holds the fetched configuration folder (``config/``, the payload's working
directory, with its ``reports/`` folder as in rs-dpr-service) and a private ``home/`` (HOME and
TMPDIR of the ``eopf`` process). It is removed when the run ends, whatever the outcome.
"""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, Self

from dpr.adapters.processors import eopf_payload as payloads
from dpr.adapters.processors import eopf_storage as storage
from dpr.adapters.processors.eopf_logs import EopfLines, Record
from dpr.domain.errors import ProcessorError
from dpr.domain.locations import LocationPolicy
from dpr.domain.secrets import mask
from dpr.ports.processor import ProcessorContext

EOPF_SPAN = (5, 95)  # the part of the job's progress the EOPF workflow covers


class RunFolder:
    """The private folder of one run (a context manager that removes it)."""

    def __init__(self, job_id: str, parent: str | None = None) -> None:
        if parent:
            Path(parent).mkdir(parents=True, exist_ok=True)
        self.root = Path(tempfile.mkdtemp(prefix=f"dpr-eopf-{job_id[:8]}-", dir=parent))
        self.config, self.home = self.root / "config", self.root / "home"
        self.home.mkdir(mode=0o700)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        shutil.rmtree(self.root, ignore_errors=True)

    def payload_file(self, subpath: str) -> Path:
        """The payload inside the configuration folder; refuses paths that leave it."""
        path = (self.config / subpath).resolve()
        if not path.is_relative_to(self.config.resolve()):
            raise ProcessorError(f"payload_subpath {subpath!r} points outside the configuration folder")
        if not path.is_file():
            raise ProcessorError(f"the configuration folder has no payload {subpath!r}")
        return path


class ForwardingContext(ProcessorContext):
    """A job's context seen through a filter: everything goes to the wrapped context; a
    subclass overrides what it reads or changes on the way."""

    def __init__(self, context: ProcessorContext) -> None:
        self.job_id, self._context = context.job_id, context

    def log(self, line: str, level: str = "INFO") -> None:
        self._context.log(line, level)

    def progress(self, percent: int | None = None, message: str | None = None) -> None:
        self._context.progress(percent, message)

    @property
    def cancelled(self) -> bool:
        return self._context.cancelled

    @property
    def env(self) -> Mapping[str, str]:
        return self._context.env

    @property
    def locations(self) -> LocationPolicy:
        return self._context.locations


class EopfOutput(ForwardingContext):
    """The job's context as the ``eopf`` process's output sees it: every line has the run's
    secrets (and those in the payload) masked, goes to the processor log in ``reports/`` as
    printed and to the job log with EOPF's own level (``eopf_logs``: one parser per stream,
    told apart by the level the runner gives it); progress lines move the job's progress; the
    final report is kept."""

    def __init__(self, context: ProcessorContext, extra_secrets: list[str], log_file: Path) -> None:
        super().__init__(context)
        self._secrets = [*extra_secrets, *context.env.values()]
        self.report: dict[str, Any] | None = None
        log_file.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[str] = log_file.open("a", encoding="utf-8")
        self._lock = threading.Lock()  # stdout and stderr are read by two threads
        self._streams: dict[str, EopfLines] = {}

    def log(self, line: str, level: str = "INFO") -> None:
        line = mask(line, self._secrets)
        found = payloads.parse_progress(line)
        if found is not None:
            low, high = EOPF_SPAN
            self._context.progress(low + found.percent * (high - low) // 100, found.message)
        with self._lock:
            self.report = payloads.parse_report(line) or self.report
            if not self._file.closed:
                self._file.write(line + "\n")
            stream = self._streams.setdefault(level, EopfLines(self._forward, level))
        stream.feed(line)

    def _forward(self, record: Record) -> None:
        self._context.log(record.line, record.level)

    def progress(self, percent: int | None = None, message: str | None = None) -> None:
        self._context.progress(percent, None if message is None else mask(message, self._secrets))

    def close(self) -> None:
        """Forward what the streams still hold (a traceback whose end was not seen)."""
        with self._lock:
            streams = list(self._streams.values())
            self._file.close()
        for stream in streams:
            stream.flush()


def written_products(
    payload: Mapping[str, Any],
    report: Mapping[str, Any] | None,
    workdir: Path,
    env: Mapping[str, str],
    *,
    allow_internal: bool = False,
) -> list[dict[str, Any]]:
    """The products the run wrote, each checked to exist: those EOPF's report lists, then the
    declared outputs it does not mention that exist. Raises ``ProcessorError`` when a reported
    product is missing or none of the declared outputs was written."""
    declared = {o.id: o for o in payloads.declared_outputs(payload)}
    products: list[dict[str, Any]] = []
    for entry in (report or {}).get("written_products") or []:
        path = storage.resolve(str(entry.get("path", "")), workdir, env)
        if not storage.exists(path, env, allow_internal=allow_internal):
            raise ProcessorError(f"EOPF reported output {entry.get('product_id')!r} at {path}, but it is not there")
        products.append(_product(str(entry.get("product_id")), path, entry.get("engine"), entry.get("unit")))
    reported = {p["id"] for p in products}
    for output in declared.values():
        path = storage.resolve(output.path, workdir, env)
        if output.id not in reported and storage.exists(path, env, allow_internal=allow_internal):
            products.append(_product(output.id, path, output.engine, None))
    if declared and not products:
        names = ", ".join(f"{o.id} ({storage.resolve(o.path, workdir, env)})" for o in declared.values())
        raise ProcessorError(f"EOPF ended without error but wrote none of the declared outputs: {names}")
    return products


def _product(product_id: str, path: str, engine: Any, unit: Any) -> dict[str, Any]:
    product = {"id": product_id, "path": path}
    if engine:
        product["engine"] = str(engine)
    if unit:
        product["unit"] = str(unit)
    return product


def redacted(payload: Any) -> Any:
    """The payload with values under secret-looking keys replaced by ``***`` (for the log)."""
    if isinstance(payload, Mapping):
        return {
            k: ("***" if payloads.SECRET_KEYS.search(str(k)) and isinstance(v, str) else redacted(v))
            for k, v in payload.items()
        }
    if isinstance(payload, list):
        return [redacted(v) for v in payload]
    return payload
