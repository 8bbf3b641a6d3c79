"""Recognising callers from the credentials they present."""

from __future__ import annotations

from abc import ABC, abstractmethod

import msgspec

from dpr.domain.principal import Principal


class Credentials(msgspec.Struct, frozen=True, kw_only=True):
    """What a caller presented, taken from the request by the entrypoint.

    Attributes:
        api_key: the value of the API-key header, if any.
        bearer: the token of ``Authorization: Bearer <token>``, if any (an API key or a JWT).
    """

    api_key: str | None = None
    bearer: str | None = None

    @property
    def empty(self) -> bool:
        return not self.api_key and not self.bearer


class Authenticator(ABC):
    """One way of recognising callers (API keys, OpenID Connect tokens)."""

    @abstractmethod
    async def authenticate(self, credentials: Credentials) -> Principal | None:
        """The principal the credentials identify.

        Returns ``None`` when the credentials are not of this authenticator's kind (so another
        may try them). Raises ``BadCredentials`` when they are of its kind but invalid (unknown,
        expired, revoked, badly signed), and ``Unavailable`` when whoever vouches for them (the
        key store, the token issuer) cannot be reached. Never logs nor echoes the credentials.
        """

    @property
    @abstractmethod
    def scheme(self) -> str:
        """The scheme named in ``WWW-Authenticate`` when a request lacks valid credentials."""
