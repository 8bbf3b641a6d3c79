"""Process descriptions (OGC ``process.yaml``) and the catalog of offered processes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from typing import Any, Literal

import msgspec

from dpr.domain.errors import NoSuchProcess


class JobControl(StrEnum):
    SYNC = "sync-execute"
    ASYNC = "async-execute"
    DISMISS = "dismiss"


class Transmission(StrEnum):
    VALUE = "value"
    REFERENCE = "reference"


class Metadata(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    title: str | None = None
    role: str | None = None
    href: str | None = None


class InputDescription(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One input of a process: its JSON schema and how many values it takes."""

    title: str | None = None
    description: str | None = None
    keywords: list[str] = msgspec.field(default_factory=list)
    metadata: list[Metadata] = msgspec.field(default_factory=list)
    schema: dict[str, Any] = msgspec.field(default_factory=dict)
    minOccurs: int = 1
    maxOccurs: int | Literal["unbounded"] = 1

    @property
    def required(self) -> bool:
        return self.minOccurs > 0

    @property
    def many(self) -> bool:
        return self.maxOccurs == "unbounded" or self.maxOccurs > 1


class OutputDescription(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """One output of a process and its JSON schema."""

    title: str | None = None
    description: str | None = None
    keywords: list[str] = msgspec.field(default_factory=list)
    metadata: list[Metadata] = msgspec.field(default_factory=list)
    schema: dict[str, Any] = msgspec.field(default_factory=dict)

    @property
    def media_type(self) -> str:
        """The media type a raw response of this output uses."""
        media = self.schema.get("contentMediaType")
        if isinstance(media, str):
            return media
        if self.schema.get("type") == "string" and "format" not in self.schema:
            return "text/plain"
        return "application/json"


class ProcessDescription(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What a process is, which inputs it takes and which outputs it gives."""

    id: str
    version: str = "1.0.0"
    title: str | None = None
    description: str | None = None
    keywords: list[str] = msgspec.field(default_factory=list)
    metadata: list[Metadata] = msgspec.field(default_factory=list)
    jobControlOptions: list[JobControl] = msgspec.field(default_factory=lambda: [JobControl.ASYNC, JobControl.DISMISS])
    outputTransmission: list[Transmission] = msgspec.field(default_factory=lambda: [Transmission.VALUE])
    inputs: dict[str, InputDescription] = msgspec.field(default_factory=dict)
    outputs: dict[str, OutputDescription] = msgspec.field(default_factory=dict)

    def allows(self, option: JobControl) -> bool:
        return option in self.jobControlOptions


class ProcessCatalog:
    """The processes a server offers, in a stable order, optionally narrowed to an enabled list.

    Args:
        descriptions: every known process.
        enabled: when given, only these ids are offered (the original service's
            ``DPR_ENABLED_PROCESSORS``); unknown ids in it are ignored.
        task_tables: the EOPF task table (JSON) of the processes that have one, by id. Kept
            beside the descriptions, not in them: it is no part of an OGC document.
    """

    def __init__(
        self,
        descriptions: Iterable[ProcessDescription],
        enabled: Iterable[str] | None = None,
        task_tables: Mapping[str, dict[str, Any]] | None = None,
    ) -> None:
        wanted = None if enabled is None else set(enabled)
        self._by_id: dict[str, ProcessDescription] = {d.id: d for d in descriptions if wanted is None or d.id in wanted}
        self._task_tables = {k: v for k, v in (task_tables or {}).items() if k in self._by_id}

    def get(self, process_id: str) -> ProcessDescription:
        """The description of ``process_id``; raises ``NoSuchProcess`` if it is not offered."""
        try:
            return self._by_id[process_id]
        except KeyError:
            raise NoSuchProcess(process_id) from None

    def __contains__(self, process_id: object) -> bool:
        return process_id in self._by_id

    def __len__(self) -> int:
        return len(self._by_id)

    def all(self) -> list[ProcessDescription]:
        return list(self._by_id.values())

    def ids(self) -> list[str]:
        return list(self._by_id)

    def task_table(self, process_id: str) -> dict[str, Any] | None:
        """The process's EOPF task table, or None when it has none; raises ``NoSuchProcess``."""
        self.get(process_id)
        return self._task_tables.get(process_id)
