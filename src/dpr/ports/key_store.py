"""Where API keys' records live (their digests, owners, roles, expiry and revocation)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime

from dpr.domain.api_key import ApiKey


class KeyStore(ABC):
    """The records of API keys. Adapters share the job store's database, so every server
    instance sees a key made or revoked by any other at its next lookup."""

    @abstractmethod
    async def add(self, key: ApiKey) -> None:
        """Store a new key's record. Raises ``ValueError`` if its id or digest is taken."""

    @abstractmethod
    async def find(self, digest: str) -> ApiKey | None:
        """The record whose digest is ``digest`` (revoked and expired ones too), or ``None``.
        Raises ``Unavailable`` when the store cannot be reached."""

    @abstractmethod
    async def all(self) -> list[ApiKey]:
        """Every record, oldest first (then by id)."""

    @abstractmethod
    async def revoke(self, key_id: str, at: datetime) -> ApiKey:
        """Mark the key revoked at ``at`` and return its record; a key already revoked keeps
        its first revocation time (idempotent). Raises ``NoSuchKey``."""
