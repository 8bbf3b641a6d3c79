"""Telling who calls: the configured authenticators tried in turn, or anonymous access."""

from __future__ import annotations

from collections.abc import Sequence

from dpr.domain.errors import BadCredentials
from dpr.domain.principal import ANONYMOUS, Principal
from dpr.ports.authenticator import Authenticator, Credentials


class Identification:
    """The principal behind a request's credentials.

    With no authenticator (``auth.methods`` empty) every caller is ``ANONYMOUS``, whatever it
    presents. Otherwise each authenticator is asked in turn; the first to recognise the
    credentials decides.
    """

    def __init__(self, authenticators: Sequence[Authenticator]) -> None:
        self.authenticators = list(authenticators)

    @property
    def anonymous(self) -> bool:
        return not self.authenticators

    @property
    def schemes(self) -> list[str]:
        """The schemes to name in ``WWW-Authenticate``."""
        return list(dict.fromkeys(a.scheme for a in self.authenticators))

    async def identify(self, credentials: Credentials) -> Principal:
        """The caller. Raises ``BadCredentials`` when credentials are missing or refused,
        ``Unavailable`` when whoever vouches for them cannot be reached."""
        if self.anonymous:
            return ANONYMOUS
        if credentials.empty:
            raise BadCredentials("authentication required: send an API key or a bearer token")
        for authenticator in self.authenticators:
            principal = await authenticator.authenticate(credentials)
            if principal is not None:
                return principal
        raise BadCredentials("the credentials are of no kind this server accepts")
