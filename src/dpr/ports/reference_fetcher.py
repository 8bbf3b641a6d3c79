"""Reading inputs given by reference (``{"href": ...}``)."""

from __future__ import annotations

from abc import ABC, abstractmethod

import msgspec


class Fetched(msgspec.Struct, frozen=True, kw_only=True):
    content: bytes
    media_type: str


class ReferenceFetcher(ABC):
    @abstractmethod
    async def fetch(self, href: str) -> Fetched:
        """The resource at ``href``.

        Raises ``InvalidInput`` when the URL is not allowed (scheme, or an internal address
        while those are refused), too large, unreachable or answers an error.
        """

    async def close(self) -> None:
        """Release connections. The default does nothing."""
