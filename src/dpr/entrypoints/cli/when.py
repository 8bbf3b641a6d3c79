"""Times for people: ``--since 2h``, "3m ago", "1m 05s"."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RELATIVE = re.compile(r"(?:\d+[smhdw])+")


def parse_since(text: str, now: datetime) -> datetime:
    """``10m``, ``2h``, ``1d``, ``1h30m`` before ``now``, or an RFC 3339 instant.

    Raises ``ValueError`` with a readable reason.
    """
    text = text.strip()
    if _RELATIVE.fullmatch(text):
        seconds = sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text))
        return now - timedelta(seconds=seconds)
    try:
        instant = datetime.fromisoformat(text.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is neither a duration (10m, 2h, 1d) nor an RFC 3339 date-time") from None
    if instant.tzinfo is None:
        if "T" in text.upper():
            raise ValueError(f"{text!r} lacks a time zone (add Z or an offset)")
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC)


def rfc3339(instant: datetime) -> str:
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def parse_instant(text: str | None) -> datetime | None:
    """A timestamp of a server document, or None when absent or unreadable."""
    if not text:
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def span(seconds: float) -> str:
    """``0.4s``, ``12s``, ``3m 05s``, ``2h 01m``, ``3d 04h``."""
    if seconds < 10:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    for size, unit, sub_size, sub_unit in ((86400, "d", 3600, "h"), (3600, "h", 60, "m"), (60, "m", 1, "s")):
        if whole >= size:
            return f"{whole // size}{unit} {whole % size // sub_size:02d}{sub_unit}"
    return f"{whole}s"


def ago(text: str | None, now: datetime) -> str:
    instant = parse_instant(text)
    if instant is None:
        return ""
    return f"{span(max(0.0, (now - instant).total_seconds()))} ago"


def duration(doc: dict[str, object], now: datetime) -> str:
    """How long a job ran: started to finished, or to now while it runs."""
    start = parse_instant(str(doc.get("started") or ""))
    if start is None:
        return ""
    end = parse_instant(str(doc.get("finished") or "")) or now
    return span(max(0.0, (end - start).total_seconds()))
