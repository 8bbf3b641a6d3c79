"""Recognising callers by OpenID Connect access tokens: JWTs checked with PyJWT.

A token is accepted when it is signed by one of the issuer's keys with an algorithm of the
allow-list (asymmetric only: never ``none``, never an HMAC keyed with a public key), names the
configured issuer and audience, and is within its lifetime (give or take ``leeway``). Its
``sub`` is the principal's subject, ``preferred_username`` (else ``name``) its display name,
and the list at the dotted ``roles_claim`` its roles.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import jwt

from dpr.adapters.oidc_keys import IssuerKeys
from dpr.domain.errors import BadCredentials
from dpr.domain.principal import Principal
from dpr.ports.authenticator import Authenticator, Credentials

_JWT = re.compile(r"ey[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
MAX_TOKEN = 16_384  # characters: longer is no access token any issuer sends
_REFUSALS: list[tuple[type[jwt.PyJWTError], str]] = [
    (jwt.ExpiredSignatureError, "the token has expired"),
    (jwt.ImmatureSignatureError, "the token is not valid yet"),
    (jwt.InvalidAudienceError, "the token is not meant for this service (audience)"),
    (jwt.InvalidIssuerError, "the token comes from another issuer"),
    (jwt.InvalidSignatureError, "the token's signature does not verify"),
    (jwt.InvalidAlgorithmError, "the token's signing algorithm is not accepted"),
    (jwt.MissingRequiredClaimError, "the token lacks a required claim"),
]


def looks_like_jwt(token: str) -> bool:
    """Whether ``token`` has a JWS compact form (three base64url parts, a JSON header)."""
    return len(token) <= MAX_TOKEN and _JWT.fullmatch(token) is not None


def roles_at(claims: dict[str, Any], path: str) -> frozenset[str]:
    """The roles at the dotted ``path`` of ``claims`` (a list, or a space-separated string);
    none when the path is missing or holds something else."""
    value: Any = claims
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if isinstance(value, str):
        value = value.split()
    if not isinstance(value, list):
        return frozenset()
    return frozenset(r for r in value if isinstance(r, str) and r)


class OidcAuthenticator(Authenticator):
    """Bearer tokens that look like JWTs (others, API keys among them, are left alone)."""

    def __init__(
        self, keys: IssuerKeys, *, audience: str, algorithms: Sequence[str], roles_claim: str, leeway: float
    ) -> None:
        unsafe = [a for a in algorithms if a.lower() == "none" or a.upper().startswith("HS")]
        if unsafe or not algorithms:
            raise ValueError(f"auth.oidc.algorithms: only asymmetric algorithms may be accepted, not {unsafe}")
        self.keys, self.audience, self.algorithms = keys, audience, list(algorithms)
        self.roles_claim, self.leeway = roles_claim, leeway

    @property
    def scheme(self) -> str:
        return "Bearer"

    async def authenticate(self, credentials: Credentials) -> Principal | None:
        token = credentials.bearer
        if not token or not looks_like_jwt(token):
            return None
        header = self._header(token)
        jwk = await self.keys.key(header.get("kid") if isinstance(header.get("kid"), str) else None)
        if jwk is None:
            raise BadCredentials("the token is signed with a key its issuer does not publish")
        claims = self._verified(token, jwk, str(header["alg"]))
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject:
            raise BadCredentials("the token names no subject")
        name = claims.get("preferred_username") or claims.get("name") or subject
        return Principal(subject=subject, display_name=str(name), roles=roles_at(claims, self.roles_claim))

    def _header(self, token: str) -> dict[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise BadCredentials("the token is not a well-formed JWT") from None
        if header.get("alg") not in self.algorithms:
            raise BadCredentials("the token's signing algorithm is not accepted")
        return header

    def _verified(self, token: str, jwk: dict[str, Any], alg: str) -> dict[str, Any]:
        if jwk.get("alg", alg) != alg:
            raise BadCredentials("the token's signing algorithm is not its key's")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            return jwt.decode(
                token,
                key,
                algorithms=[alg],
                audience=self.audience,
                issuer=self.keys.issuer,
                leeway=self.leeway,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.PyJWTError as e:
            reason = next((text for kind, text in _REFUSALS if isinstance(e, kind)), "the token is not valid")
            raise BadCredentials(reason) from None
