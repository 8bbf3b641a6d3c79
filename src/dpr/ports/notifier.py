"""Telling subscribers (the standard's callbacks) what became of a job."""

from __future__ import annotations

from abc import ABC, abstractmethod


class Notifier(ABC):
    @abstractmethod
    async def check(self, url: str) -> None:
        """Raise ``InvalidInput`` if ``url`` may not be called back (bad scheme, internal
        address while those are refused). Called when the job is submitted."""

    @abstractmethod
    def notify(self, url: str, body: bytes) -> None:
        """POST ``body`` (JSON) to ``url`` in the background, retrying with back-off.

        Never blocks the caller and never raises: a subscriber that is down must not hold up
        or fail the job.
        """

    async def close(self) -> None:
        """Finish or drop pending deliveries. The default does nothing."""
