"""Explicit row <-> Struct mapping: the ORM cannot map msgspec Structs, and need not."""

from __future__ import annotations

import functools
from typing import Any

import msgspec
from sqlalchemy import Row

from dpr.adapters.sql.timestamps import MICROSECOND
from dpr.domain.job import Job
from dpr.ports.log_store import LogRecord

JOB_FIELDS = tuple(field.name for field in msgspec.structs.fields(Job))
FREE_TEXT = ("message", "error")


def storable(text: str) -> str:
    """``text`` with each NUL character replaced by U+FFFD.

    PostgreSQL text cannot hold NUL, and processor output sometimes does. SQLite gets the same
    treatment, so both SQL adapters return the same text.
    """
    return text.replace("\x00", "\ufffd")


def job_to_row(job: Job) -> dict[str, Any]:
    """The ``jobs`` row of a job: one column per field, JSON columns as plain builtins."""
    row = {name: getattr(job, name) for name in JOB_FIELDS}
    row["status"] = job.status.value
    ended = job.finished is not None and job.started is not None
    row["duration_us"] = (job.finished - job.started) // MICROSECOND if ended else None  # type: ignore[operator]
    row["request"] = msgspec.to_builtins(job.request)
    for name in FREE_TEXT:
        if row[name] is not None:
            row[name] = storable(row[name])
    return row


def row_to_job(row: Row[Any]) -> Job:
    return values_to_job(row_values(row))


def storable_id(job_id: str) -> bool:
    """Whether a job id can be stored (and so found): text PostgreSQL takes, UTF-8 without NUL.
    Ids from a request path can be anything; one the database refuses must not fail the
    batch of reads it would have joined."""
    if "\x00" in job_id:
        return False
    try:
        job_id.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates
        return False
    return True


def values_to_job(values: dict[str, Any]) -> Job:
    return msgspec.convert(values, Job)  # columns that are not fields (duration_us) are ignored


def row_to_log(row: Row[Any]) -> LogRecord:
    return msgspec.convert(row_values(row), LogRecord)


def row_values(row: Row[Any]) -> dict[str, Any]:
    """The row as a dict of column name to value."""
    # msgspec converts a dict of plain-str keys almost twice as fast as it reads a Row's
    # attributes (a page of 100 jobs: 0.5 ms instead of 0.9 ms here); SQLAlchemy's keys are a
    # str subclass, which msgspec refuses as keys.
    return dict(zip(_plain_names(row._fields), row, strict=True))


@functools.lru_cache(maxsize=32)
def _plain_names(fields: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(str(name) for name in fields)


def encode_json(value: Any) -> str:
    """The engine's JSON serializer: msgspec, so stored documents match the API's encoding."""
    return msgspec.json.encode(value).decode()


def decode_json(text: str | bytes) -> Any:
    return msgspec.json.decode(text)
