"""An OpenID Connect issuer's signing keys: discovered, fetched with httpx, cached, refreshed.

The key set is fetched from the ``jwks_uri`` of ``<issuer>/.well-known/openid-configuration``
and kept for ``cache_for`` seconds. A token naming a key id the set lacks (the issuer rotated
its keys) makes one new fetch, at most one per ``min_refresh`` seconds whatever the number of
such tokens, so a flood of made-up key ids cannot hammer the issuer; requests arriving while a
fetch runs wait for that one fetch. When the issuer cannot be reached the keys already known
stay in use, and only tokens that need a key not known raise ``Unavailable``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt

from dpr.adapters.config import redact_url
from dpr.domain.errors import Unavailable

log = logging.getLogger("dpr.auth")

ISSUER = "OpenID Connect issuer"


class IssuerKeys:
    """The public keys of one issuer, by key id (symmetric ``oct`` keys are never taken)."""

    def __init__(
        self,
        issuer: str,
        *,
        cache_for: float,
        min_refresh: float,
        timeout: float,
        retry_after: int,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.issuer = issuer.rstrip("/")
        self.cache_for, self.min_refresh, self.timeout, self.retry_after = cache_for, min_refresh, timeout, retry_after
        self.monotonic = monotonic
        self._keys: dict[str, dict[str, Any]] = {}
        self._fetched: float | None = None  # when the keys were last fetched successfully
        self._attempted: float | None = None  # when a fetch last started
        self._failure: str | None = None  # why the last fetch failed (None: it succeeded)
        self._fetch: tuple[asyncio.AbstractEventLoop, asyncio.Task[None]] | None = None

    async def key(self, kid: str | None) -> dict[str, Any] | None:
        """The JWK of ``kid`` (without a kid: the issuer's only key), or ``None`` when the
        issuer has no such key. Raises ``Unavailable`` when the key is not known and the issuer
        cannot be reached to learn it."""
        if self._expired() and self._keys:
            self._start()  # in the background: the known keys serve meanwhile
        found = self._find(kid)
        if found is None:
            fetch = self._start()
            if fetch is not None:
                await asyncio.shield(fetch)
                found = self._find(kid)
        if found is None and self._failure is not None:
            raise Unavailable(ISSUER, self._failure, self.retry_after)
        return found

    def _find(self, kid: str | None) -> dict[str, Any] | None:
        if kid is None:
            return next(iter(self._keys.values())) if len(self._keys) == 1 else None
        return self._keys.get(kid)

    def _expired(self) -> bool:
        return self._fetched is None or self.monotonic() - self._fetched >= self.cache_for

    def _start(self) -> asyncio.Task[None] | None:
        """The fetch running in this event loop, else a new one unless one started less than
        ``min_refresh`` seconds ago (then ``None``)."""
        loop = asyncio.get_running_loop()
        if self._fetch is not None and self._fetch[0] is loop and not self._fetch[1].done():
            return self._fetch[1]
        if self._attempted is not None and self.monotonic() - self._attempted < self.min_refresh:
            return None
        self._attempted = self.monotonic()
        self._fetch = (loop, loop.create_task(self._load()))
        return self._fetch[1]

    async def _load(self) -> None:
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as client:
                discovery = await _document(client, f"{self.issuer}/.well-known/openid-configuration")
                if str(discovery.get("issuer", "")).rstrip("/") != self.issuer:
                    raise ValueError("its discovery document names another issuer")
                jwks = await _document(client, str(discovery.get("jwks_uri") or ""))
            self._keys = _usable(jwks)
        except (httpx.HTTPError, ValueError) as e:
            self._failure = redact_url(f"{self.issuer}: {e.__class__.__name__}: {e}")  # answered in the 503
            if self._keys:
                log.warning("%s unreachable, its known keys stay in use: %s", ISSUER, self._failure)
            return
        self._fetched, self._failure = self.monotonic(), None


async def _document(client: httpx.AsyncClient, url: str) -> dict[str, Any]:
    if not url.startswith(("https://", "http://")):
        raise ValueError(f"no usable URL ({url!r})")
    response = await client.get(url, headers={"Accept": "application/json"})
    response.raise_for_status()
    doc = response.json()
    if not isinstance(doc, dict):
        raise ValueError(f"{url} is not a JSON object")
    return doc


def _usable(jwks: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The key set's public signing keys by id: never a symmetric key, an encryption key, or
    one the JOSE library cannot read."""
    keys: dict[str, dict[str, Any]] = {}
    for jwk in jwks.get("keys") or []:
        if not isinstance(jwk, dict) or jwk.get("kty") == "oct" or jwk.get("use", "sig") != "sig":
            continue
        try:
            jwt.PyJWK(jwk)
        except (jwt.PyJWTError, ValueError, KeyError, TypeError):  # a malformed key: ignore it alone
            continue
        keys[str(jwk.get("kid", ""))] = jwk
    return keys
