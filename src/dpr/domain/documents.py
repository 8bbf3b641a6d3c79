"""The JSON documents of OGC API - Processes 1.0, as Structs with the standard's wire names."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

import msgspec

from dpr.domain.process import InputDescription, JobControl, Metadata, OutputDescription, Transmission
from dpr.domain.status import JobStatus


class Link(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    href: str
    rel: str | None = None
    type: str | None = None
    title: str | None = None
    hreflang: str | None = None


class StatusInfo(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    jobID: str
    processID: str
    status: JobStatus
    type: Literal["process"]  # required on the wire, so no default (omit_defaults would drop it)
    message: str | None = None
    created: datetime | None = None
    started: datetime | None = None
    finished: datetime | None = None
    updated: datetime | None = None
    progress: int | None = None
    links: list[Link] = msgspec.field(default_factory=list)


class JobList(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    jobs: list[StatusInfo]
    links: list[Link]
    numberMatched: int | None = None
    numberReturned: int | None = None


class ProcessSummary(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    id: str
    version: str
    title: str | None = None
    description: str | None = None
    keywords: list[str] = msgspec.field(default_factory=list)
    metadata: list[Metadata] = msgspec.field(default_factory=list)
    jobControlOptions: list[JobControl] = msgspec.field(default_factory=list)
    outputTransmission: list[Transmission] = msgspec.field(default_factory=list)
    links: list[Link] = msgspec.field(default_factory=list)


class Process(ProcessSummary, frozen=True, kw_only=True, omit_defaults=True):
    """A full process description (``process.yaml``)."""

    inputs: dict[str, InputDescription] = msgspec.field(default_factory=dict)
    outputs: dict[str, OutputDescription] = msgspec.field(default_factory=dict)


class ProcessList(msgspec.Struct, frozen=True, kw_only=True):
    processes: list[ProcessSummary]
    links: list[Link]


class LandingPage(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    links: list[Link]
    title: str | None = None
    description: str | None = None


class ConfClasses(msgspec.Struct, frozen=True, kw_only=True):
    conformsTo: list[str]


class OgcException(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """An RFC 7807 problem document (the standard's ``exception.yaml``)."""

    type: str
    title: str | None = None
    status: int | None = None
    detail: str | None = None
    instance: str | None = None


Results = dict[str, Any]


class LogLine(msgspec.Struct, frozen=True, kw_only=True):
    seq: int
    at: datetime
    level: str
    line: str


class JobLogs(msgspec.Struct, frozen=True, kw_only=True):
    """A page of a job's log (dpr's extension: ``/jobs/{id}/logs``)."""

    jobID: str
    status: JobStatus
    logs: list[LogLine]
    links: list[Link]
