"""Parsing the job-list query parameters of the standard (``/jobs?status=...&datetime=...``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta

from dpr.domain.errors import InvalidParameter
from dpr.domain.query import DEFAULT_LIMIT, MAX_LIMIT, Cursor, JobQuery
from dpr.domain.status import JobStatus

KNOWN = frozenset(
    {
        "type",
        "processID",
        "processId",
        "status",
        "datetime",
        "minDuration",
        "maxDuration",
        "limit",
        "cursor",
        "count",
        "f",
    }
)


MAX_DURATION_SECONDS = 10**10  # 317 years


def _values(params: Mapping[str, Sequence[str]], name: str) -> list[str]:
    """All values of a parameter, accepting both repetition and comma-separated lists."""
    out: list[str] = []
    for raw in params.get(name, []):
        out.extend(v.strip() for v in raw.split(",") if v.strip())
    return out


def _one(params: Mapping[str, Sequence[str]], name: str) -> str | None:
    values = list(params.get(name, []))
    if len(values) > 1:
        raise InvalidParameter(name, "may be given only once")
    return values[0].strip() if values else None


def parse_instant(text: str, name: str = "datetime") -> datetime:
    """An RFC 3339 date-time (``Z`` or offset; a bare date means its midnight UTC)."""
    try:
        value = datetime.fromisoformat(text.replace("z", "Z").replace("Z", "+00:00"))
    except ValueError:
        raise InvalidParameter(name, f"{text!r} is not an RFC 3339 date-time") from None
    if value.tzinfo is None:
        if "T" in text.upper():
            raise InvalidParameter(name, f"{text!r} lacks a time zone (add Z or an offset)")
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+01:00 is a moment before year 1 in UTC
        raise InvalidParameter(name, f"{text!r} lies outside the years 1 to 9999 in UTC") from None


def parse_datetime(text: str) -> tuple[datetime | None, datetime | None]:
    """An instant (``from == to``) or an interval ``a/b`` with ``..`` or empty for an open end."""
    if "/" not in text:
        instant = parse_instant(text)
        return instant, instant
    start, _, end = text.partition("/")
    lo = None if start in ("", "..") else parse_instant(start)
    hi = None if end in ("", "..") else parse_instant(end)
    if lo is not None and hi is not None and lo > hi:
        raise InvalidParameter("datetime", "the interval ends before it starts")
    return lo, hi


def _seconds(text: str | None, name: str) -> timedelta | None:
    if text is None:
        return None
    try:
        value = int(text)
    except ValueError:
        raise InvalidParameter(name, f"{text!r} is not a whole number of seconds") from None
    if value < 0:
        raise InvalidParameter(name, "must not be negative")
    if value > MAX_DURATION_SECONDS:  # ``now - value`` must still be a date the stores can hold
        raise InvalidParameter(name, f"is too large (at most {MAX_DURATION_SECONDS} seconds)")
    return timedelta(seconds=value)


def _limit(text: str | None) -> int:
    if text is None:
        return DEFAULT_LIMIT
    try:
        value = int(text)
    except ValueError:
        raise InvalidParameter("limit", f"{text!r} is not a whole number") from None
    if not 1 <= value <= MAX_LIMIT:
        raise InvalidParameter("limit", f"must be between 1 and {MAX_LIMIT}")
    return value


def parse_job_query(params: Mapping[str, Sequence[str]], now: datetime, owner: str | None = None) -> JobQuery:
    """A ``JobQuery`` from the query string; raises ``InvalidParameter`` naming the culprit.

    ``owner`` (the parameter, else the argument) filters by the jobs' owner: whether the caller
    may use it is the job queries' decision (administrators only)."""
    types = _values(params, "type")
    if any(t != "process" for t in types):
        raise InvalidParameter("type", "the only job type is 'process'")
    try:
        statuses = frozenset(JobStatus(s) for s in _values(params, "status"))
    except ValueError:
        raise InvalidParameter("status", f"must be among {', '.join(JobStatus)}") from None
    created = _one(params, "datetime")
    lo, hi = parse_datetime(created) if created else (None, None)
    min_d, max_d = (
        _seconds(_one(params, "minDuration"), "minDuration"),
        _seconds(_one(params, "maxDuration"), "maxDuration"),
    )
    if min_d is not None and max_d is not None and min_d > max_d:
        raise InvalidParameter("minDuration", "is greater than maxDuration")
    cursor = _one(params, "cursor")
    count = (_one(params, "count") or "false").lower()
    if count not in ("true", "false"):
        raise InvalidParameter("count", "must be true or false")
    return JobQuery(
        now=now,
        statuses=statuses,
        process_ids=frozenset(_values(params, "processID") + _values(params, "processId")),
        created_from=lo,
        created_to=hi,
        min_duration=min_d,
        max_duration=max_d,
        owner=_one(params, "owner") or owner,
        limit=_limit(_one(params, "limit")),
        after=Cursor.decode(cursor) if cursor else None,
        count=count == "true",
    )
