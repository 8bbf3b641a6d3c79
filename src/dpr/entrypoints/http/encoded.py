"""Answers that are the same for every request with the same key, encoded once per process.

The process catalog is fixed for the life of a server, so its JSON documents differ only by
what goes into their links (the base URL) and the page asked for. Encoding them, their links
and their ``Link`` header on every request cost more than serving them.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any

from litestar import Response

from dpr.entrypoints.http.common import Encoded

MAX_ENTRIES = 64
"""Keys kept: a base URL taken from any ``Host`` a client sends must not grow this without bound."""


_Entry = tuple[Any, int, dict[str, Any], str]  # content, status, headers, media type


class EncodedResponses:
    """A small least-recently-used store of encoded answers (body, status, headers)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self._entries: OrderedDict[Hashable, _Entry] = OrderedDict()
        self._max_entries = max_entries

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable, make: Callable[[], Response[Any]]) -> Response[Any]:
        """A fresh response with what ``make`` answered the first time ``key`` was asked for.

        ``make`` must return a response whose content is already encoded (bytes).
        """
        entry = self._entries.get(key)
        if entry is None:
            made = make()
            entry = (made.content, made.status_code or 200, dict(made.headers), str(made.media_type))
            self._entries[key] = entry
            if len(self._entries) > self._max_entries:
                self._entries.popitem(last=False)
        else:
            self._entries.move_to_end(key)
        content, status, headers, media_type = entry
        return Encoded(content=content, status_code=status, headers=headers, media_type=media_type)
