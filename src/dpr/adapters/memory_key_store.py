"""API keys' records in memory, for tests and ``--ephemeral`` servers."""

from __future__ import annotations

from datetime import datetime

from msgspec.structs import replace

from dpr.domain.api_key import ApiKey
from dpr.domain.errors import NoSuchKey
from dpr.ports.key_store import KeyStore


class InMemoryKeyStore(KeyStore):
    def __init__(self) -> None:
        self._keys: dict[str, ApiKey] = {}

    async def add(self, key: ApiKey) -> None:
        if key.key_id in self._keys or any(k.digest == key.digest for k in self._keys.values()):
            raise ValueError(f"an API key with id {key.key_id!r} or the same digest exists")
        self._keys[key.key_id] = key

    async def find(self, digest: str) -> ApiKey | None:
        return next((k for k in self._keys.values() if k.digest == digest), None)

    async def all(self) -> list[ApiKey]:
        return sorted(self._keys.values(), key=lambda k: (k.created, k.key_id))

    async def revoke(self, key_id: str, at: datetime) -> ApiKey:
        if key_id not in self._keys:
            raise NoSuchKey(key_id)
        key = self._keys[key_id]
        if key.revoked is None:
            key = self._keys[key_id] = replace(key, revoked=at)
        return key
