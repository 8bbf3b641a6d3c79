"""Timezone-aware timestamps that round-trip exactly on PostgreSQL and SQLite."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator, TypeEngine

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def to_micros(value: datetime | timedelta) -> int:
    """Microseconds since the Unix epoch (a datetime) or in total (a timedelta), exactly."""
    if isinstance(value, timedelta):
        return value // MICROSECOND
    if value.tzinfo is None:
        # A naive time has no instant: storing it would silently pick the server's zone.
        raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: give it a timezone")
    return (value - EPOCH) // MICROSECOND


def from_micros(value: int) -> datetime:
    return EPOCH + value * MICROSECOND


class UtcDateTime(TypeDecorator[datetime]):
    """An aware datetime, read back in UTC.

    PostgreSQL keeps it as ``timestamptz`` (microsecond precision, so exact). SQLite has no
    timestamp type: there it is an integer of microseconds since the epoch, which orders,
    compares and subtracts correctly and never loses precision the way julianday floats do.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return to_micros(value)
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value.isoformat()} cannot be stored: give it a timezone")
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return from_micros(value)
        return value.astimezone(UTC)
