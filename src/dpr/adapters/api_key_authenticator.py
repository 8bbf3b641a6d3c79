"""Recognising callers by API key: a digest lookup in the key store on every request."""

from __future__ import annotations

from dpr.domain.api_key import PREFIX, digest
from dpr.domain.errors import BadCredentials
from dpr.domain.principal import Principal
from dpr.ports.authenticator import Authenticator, Credentials
from dpr.ports.clock import Clock
from dpr.ports.key_store import KeyStore


class ApiKeyAuthenticator(Authenticator):
    """API keys from the key-header or ``Authorization: Bearer``.

    The key is looked up by its SHA-256 digest, never compared byte by byte with stored keys,
    so timing reveals nothing about any key. The store given may cache records for a few
    seconds (``CachedKeyStore``), which bounds how late another instance's revocation is seen;
    expiry is checked on every request.
    """

    def __init__(self, store: KeyStore, clock: Clock) -> None:
        self.store, self.clock = store, clock

    @property
    def scheme(self) -> str:
        return "ApiKey"

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        key = credentials.api_key or (
            credentials.bearer if credentials.bearer and credentials.bearer.startswith(PREFIX) else None
        )
        if not key:
            return None  # nothing, or a bearer token that is no API key (a JWT for OIDC)
        hashed = digest(key)
        record = await self.store.find(hashed)
        reason = "unknown API key" if record is None else record.refusal(key, self.clock.now(), presented_digest=hashed)
        if reason is not None or record is None:
            raise BadCredentials(reason or "unknown API key")
        return record.principal()
