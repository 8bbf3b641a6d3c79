"""A key store that remembers the records it found for a few seconds.

Authenticating a request by API key costs one digest lookup in the job database; remembering
the record for ``ttl`` seconds makes repeated requests with the same key cost none, and bounds
how stale a record may be: a key revoked (or expired) through any instance is refused by every
instance at most ``ttl`` seconds later. Unknown digests are not remembered, so a key made on
another instance works at once, and a flood of made-up keys cannot fill the memory; the
number of records kept is bounded as well.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime

from dpr.domain.api_key import ApiKey
from dpr.ports.key_store import KeyStore


class CachedKeyStore(KeyStore):
    def __init__(
        self, store: KeyStore, *, ttl: float, size: int = 10_000, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.store, self.ttl, self.size, self.monotonic = store, ttl, size, monotonic
        self._found: OrderedDict[str, tuple[float, ApiKey]] = OrderedDict()

    async def add(self, key: ApiKey) -> None:
        await self.store.add(key)

    async def find(self, digest: str) -> ApiKey | None:
        now = self.monotonic()
        kept = self._found.get(digest)
        if kept is not None and now - kept[0] < self.ttl:
            return kept[1]
        record = await self.store.find(digest)
        if record is None:
            self._found.pop(digest, None)
            return None
        self._found[digest] = (now, record)
        self._found.move_to_end(digest)
        while len(self._found) > self.size:
            self._found.popitem(last=False)
        return record

    async def all(self) -> list[ApiKey]:
        return await self.store.all()

    async def revoke(self, key_id: str, at: datetime) -> ApiKey:
        record = await self.store.revoke(key_id, at)
        self._found.pop(record.digest, None)
        return record
