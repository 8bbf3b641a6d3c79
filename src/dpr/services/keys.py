"""Managing API keys: making one (shown once), listing them, revoking one."""

from __future__ import annotations

import secrets
from datetime import datetime

from dpr.domain.api_key import KEY_BYTES, PREFIX, ApiKey, digest
from dpr.domain.errors import InvalidParameter
from dpr.ports.clock import Clock
from dpr.ports.key_store import KeyStore


class KeyManagement:
    """The ``dpr keys`` use cases. A key is drawn from the system's CSPRNG; only its digest
    is stored, so the key itself exists only in what ``create`` returns."""

    def __init__(self, *, store: KeyStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    async def create(
        self, owner: str, roles: frozenset[str] = frozenset(), expires: datetime | None = None
    ) -> tuple[ApiKey, str]:
        """A new key for ``owner``: its record and the key (to hand over once, never stored).
        Raises ``InvalidParameter`` for an empty owner or an expiry in the past."""
        if not owner.strip():
            raise InvalidParameter("owner", "must not be empty")
        now = self.clock.now()
        if expires is not None and expires <= now:
            raise InvalidParameter("expires", "must be in the future")
        key = PREFIX + secrets.token_urlsafe(KEY_BYTES)
        record = ApiKey(
            key_id=secrets.token_hex(8), digest=digest(key), owner=owner, roles=roles, created=now, expires=expires
        )
        await self.store.add(record)
        return record, key

    async def all(self) -> list[ApiKey]:
        """Every key's record, oldest first."""
        return await self.store.all()

    async def revoke(self, key_id: str) -> ApiKey:
        """Revoke the key now (idempotent). Raises ``NoSuchKey``."""
        return await self.store.revoke(key_id, self.clock.now())
