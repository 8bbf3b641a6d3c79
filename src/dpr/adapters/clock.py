"""The real clock and id generator, and a manual clock for tests and simulations."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from dpr.ports.clock import Clock, IdGenerator


class SystemClock(Clock):
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock(Clock):
    """A clock that moves only when told to."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now


class UuidIdGenerator(IdGenerator):
    """Random UUID4 ids: unguessable, so a job URL is not an enumeration target."""

    def new_id(self) -> str:
        return str(uuid.uuid4())
