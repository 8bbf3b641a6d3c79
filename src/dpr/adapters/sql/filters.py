"""``JobQuery`` as SQL: the same semantics as ``JobQuery.matches`` and ``order_key``."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, bindparam, or_, tuple_

from dpr.adapters.sql.tables import RUNNING_SINCE, jobs
from dpr.adapters.sql.timestamps import UtcDateTime, to_micros
from dpr.domain.query import Cursor, JobQuery

# Newest first; job_id breaks ties so the order is total, which keyset paging needs.
NEWEST_FIRST = (jobs.c.created.desc(), jobs.c.job_id.desc())

Comparison = Callable[[Any, Any], ColumnElement[bool]]


def query_filters(query: JobQuery) -> list[ColumnElement[bool]]:
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
    # Jobs that never started have no duration and never match a duration filter.
    if query.min_duration is not None:
        terms.append(duration_compare(query.now, operator.ge, query.min_duration))
    if query.max_duration is not None:
        terms.append(duration_compare(query.now, operator.le, query.max_duration))
    return terms


def duration_compare(now: datetime, compare: Comparison, bound: timedelta) -> ColumnElement[bool]:
    """``duration <compare> bound``: an ended job's stored ``duration_us``, or for a running one
    ``now - started``, turned around to compare ``started`` with ``now - bound`` so both sides
    can use an index (``ix_jobs_duration_us``, ``ix_jobs_running_started``)."""
    ended = compare(jobs.c.duration_us, bindparam("duration_bound", to_micros(bound), type_=BigInteger, unique=True))
    since = bindparam("duration_since", now - bound, type_=UtcDateTime, unique=True)
    # duration >= bound  <=>  started <= now - bound; and <= turns into >=.
    running = RUNNING_SINCE & (jobs.c.started <= since if compare is operator.ge else jobs.c.started >= since)
    return or_(ended, running)


def after_cursor(cursor: Cursor | None) -> list[ColumnElement[bool]]:
    """Keyset paging: strictly after ``cursor`` in the newest-first order."""
    if cursor is None:
        return []
    created = bindparam("cursor_created", cursor.created, type_=UtcDateTime, unique=True)
    job_id = bindparam("cursor_job_id", cursor.job_id, type_=jobs.c.job_id.type, unique=True)
    return [tuple_(jobs.c.created, jobs.c.job_id) < tuple_(created, job_id)]
