"""Which representation a request gets: JSON (the default) or HTML for browsers.

``?f=json|html`` decides when given; otherwise the ``Accept`` header does, and only a client that
ranks ``text/html`` above ``application/json`` (a browser) gets HTML. No ``Accept``, ``*/*``,
``application/json`` and anything unknown get JSON.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import StrEnum
from functools import lru_cache

from dpr.domain.errors import InvalidParameter

JSON_TYPE = "application/json"
HTML_TYPE = "text/html"


class Format(StrEnum):
    JSON = "json"
    HTML = "html"

    @property
    def media_type(self) -> str:
        return HTML_TYPE if self is Format.HTML else JSON_TYPE


def choose_format(f: Sequence[str], accept: str | None) -> Format:
    """The representation to answer with.

    Args:
        f: every value of the ``f`` query parameter (usually none or one).
        accept: the ``Accept`` header, if any.

    Raises:
        InvalidParameter: ``f`` names no known format, or names two different ones.
    """
    wanted = {value.strip().lower() for value in f}
    if wanted:
        if len(wanted) > 1 or not wanted <= set(Format):
            raise InvalidParameter("f", f"must be one of {', '.join(Format)}")
        return Format(wanted.pop())
    return _from_accept(accept or "")


@lru_cache(maxsize=256)
def _from_accept(accept: str) -> Format:
    """Clients send the same few ``Accept`` values again and again: each is parsed once."""
    return Format.HTML if _quality(accept, HTML_TYPE) > _quality(accept, JSON_TYPE) else Format.JSON


def _quality(accept: str | None, media_type: str) -> float:
    """The q-value ``accept`` gives ``media_type``: the most specific matching range counts."""
    major = media_type.split("/")[0]
    best: tuple[int, float] = (-1, 0.0)
    for media_range, q in _ranges(accept or ""):
        specificity = {media_type: 2, f"{major}/*": 1, "*/*": 0}.get(media_range, -1)
        if specificity > best[0]:
            best = (specificity, q)
    return best[1]


def _ranges(accept: str) -> list[tuple[str, float]]:
    out = []
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = min(1.0, max(0.0, float(value)))
                except ValueError:
                    q = 0.0
        if media_range:
            out.append((media_range.lower(), q))
    return out
