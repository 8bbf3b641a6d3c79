"""API keys: random secrets of 256 bits, known to the server only by their SHA-256 digest.

A slow password hash protects secrets people choose; a key drawn from 256 random bits cannot
be guessed, so one SHA-256 is enough, and lets a request find its key by digest (one indexed
lookup) instead of comparing against every key.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import msgspec

from dpr.domain.principal import Principal

PREFIX = "dpr_"  # makes a leaked key recognisable to secret scanners
KEY_BYTES = 32  # 256 bits


def digest(key: str) -> str:
    """The SHA-256 digest of ``key``, in hex: all the server ever stores of it."""
    return hashlib.sha256(key.encode()).hexdigest()


class ApiKey(msgspec.Struct, frozen=True, kw_only=True):
    """A key's record (never the key itself).

    Attributes:
        key_id: the public identifier (``dpr keys revoke ID``).
        digest: ``digest(key)``.
        owner: the subject of the principal the key authenticates; owns the jobs it submits.
        roles: the principal's roles.
        created: when the key was made.
        expires: after this instant the key is refused (``None``: never).
        revoked: when the key was revoked (``None``: it is not).
    """

    key_id: str
    digest: str
    owner: str
    roles: frozenset[str] = frozenset()
    created: datetime
    expires: datetime | None = None
    revoked: datetime | None = None

    def refusal(self, presented: str, now: datetime, *, presented_digest: str | None = None) -> str | None:
        """Why the key ``presented`` is refused now (revoked, expired, not this key), or None;
        ``presented_digest``, when the caller already has ``digest(presented)``, saves hashing
        it again."""
        if not hmac.compare_digest(self.digest, presented_digest or digest(presented)):
            return "unknown API key"
        if self.revoked is not None and self.revoked <= now:
            return "the API key was revoked"
        if self.expires is not None and self.expires <= now:
            return "the API key has expired"
        return None

    def principal(self) -> Principal:
        return Principal(subject=self.owner, display_name=self.owner, roles=self.roles)
