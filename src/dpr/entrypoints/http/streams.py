"""How many log streams (server-sent events) the server holds open: each is a connection and a
follower polling the store for as long as its client stays, so they are counted, per server
and per client address, and closed once quiet for too long."""

from __future__ import annotations

from collections import Counter

from dpr.domain.errors import Overloaded


class StreamSlots:
    """Open streams, counted; ``take`` refuses (``Overloaded``, a 429) past either cap."""

    def __init__(self, total: int, per_client: int, idle_timeout: float, retry_after: int) -> None:
        self.total, self.per_client = total, per_client
        self.idle_timeout, self.retry_after = idle_timeout, retry_after
        self._open: Counter[str] = Counter()

    def take(self, client: str) -> None:
        if sum(self._open.values()) >= self.total:
            raise Overloaded(f"the server already streams {self.total} logs", self.retry_after)
        if self._open[client] >= self.per_client:
            raise Overloaded(f"this client already follows {self.per_client} logs", self.retry_after)
        self._open[client] += 1

    def give_back(self, client: str) -> None:
        self._open[client] -= 1
        if self._open[client] <= 0:
            del self._open[client]
