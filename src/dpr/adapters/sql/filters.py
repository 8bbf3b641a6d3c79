"""``JobQuery`` as SQL: the same semantics as ``JobQuery.matches`` and ``order_key``."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Interval, bindparam, func, literal, tuple_, type_coerce

from dpr.adapters.sql.tables import jobs
from dpr.adapters.sql.timestamps import UtcDateTime, to_micros
from dpr.domain.query import Cursor, JobQuery

# Newest first; job_id breaks ties so the order is total, which keyset paging needs.
NEWEST_FIRST = (jobs.c.created.desc(), jobs.c.job_id.desc())

Comparison = Callable[[Any, Any], ColumnElement[bool]]


def query_filters(query: JobQuery, dialect: str) -> list[ColumnElement[bool]]:
    """The WHERE terms of every filter in ``query`` (paging aside)."""
    terms: list[ColumnElement[bool]] = []
    if query.statuses:
        terms.append(jobs.c.status.in_(sorted(s.value for s in query.statuses)))
    if query.process_ids:
        terms.append(jobs.c.process_id.in_(sorted(query.process_ids)))
    if query.owner is not None:
        terms.append(jobs.c.owner == query.owner)
    if query.created_from is not None:
        terms.append(jobs.c.created >= query.created_from)
    if query.created_to is not None:
        terms.append(jobs.c.created <= query.created_to)
    if query.min_duration is not None or query.max_duration is not None:
        # Jobs that never started have no duration and never match a duration filter.
        terms.append(jobs.c.started.is_not(None))
    if query.min_duration is not None:
        terms.append(duration_compare(dialect, query.now, operator.ge, query.min_duration))
    if query.max_duration is not None:
        terms.append(duration_compare(dialect, query.now, operator.le, query.max_duration))
    return terms


def duration_compare(dialect: str, now: datetime, compare: Comparison, bound: timedelta) -> ColumnElement[bool]:
    """``coalesce(finished, now) - started <compare> bound``, in the column's storage unit."""
    if dialect == "sqlite":
        # Integer microseconds: plain integer arithmetic, exact.
        finished = type_coerce(jobs.c.finished, BigInteger)
        started = type_coerce(jobs.c.started, BigInteger)
        end = func.coalesce(finished, literal(to_micros(now), BigInteger))
        return compare(end - started, literal(to_micros(bound), BigInteger))
    end = func.coalesce(jobs.c.finished, bindparam("duration_now", now, type_=UtcDateTime, unique=True))
    return compare(end - jobs.c.started, literal(bound, Interval()))


def after_cursor(cursor: Cursor | None) -> list[ColumnElement[bool]]:
    """Keyset paging: strictly after ``cursor`` in the newest-first order."""
    if cursor is None:
        return []
    created = bindparam("cursor_created", cursor.created, type_=UtcDateTime, unique=True)
    job_id = bindparam("cursor_job_id", cursor.job_id, type_=jobs.c.job_id.type, unique=True)
    return [tuple_(jobs.c.created, jobs.c.job_id) < tuple_(created, job_id)]
