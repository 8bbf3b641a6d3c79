"""Who is calling: the principal an authenticator recognised, and what its roles allow."""

from __future__ import annotations

import msgspec

ADMIN = "admin"


class Principal(msgspec.Struct, frozen=True, kw_only=True):
    """An authenticated caller.

    Attributes:
        subject: the stable identifier jobs are owned by (an API key's owner, a token's ``sub``).
        display_name: a name fit for pages and logs.
        roles: what the principal may do beyond its own jobs (``admin`` sees and dismisses all).
    """

    subject: str
    display_name: str = ""
    roles: frozenset[str] = frozenset()

    @property
    def is_admin(self) -> bool:
        return ADMIN in self.roles

    def may_use(self, allowed: frozenset[str] | None) -> bool:
        """Whether a resource open to the roles ``allowed`` (``None``: to anyone) is open to
        this principal; admins may use everything."""
        return allowed is None or self.is_admin or bool(self.roles & allowed)

    def owner_scope(self) -> str | None:
        """The owner whose jobs this principal may see and act on; ``None`` for all (admins)."""
        return None if self.is_admin else self.subject


ANONYMOUS = Principal(subject="anonymous", display_name="anonymous", roles=frozenset({ADMIN}))
"""The caller when authentication is off (``auth.methods`` empty): it sees every job, as
before identities existed, and the jobs it submits are owned by ``anonymous``."""
