"""Time and identity, injected so that tests control them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from datetime import datetime


class Clock(ABC):
    @abstractmethod
    def now(self) -> datetime:
        """The current instant, timezone-aware UTC."""


class IdGenerator(ABC):
    @abstractmethod
    def new_id(self) -> str:
        """A new, unique, URL-safe job id."""
