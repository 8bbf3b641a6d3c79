"""API keys' records in PostgreSQL or SQLite, beside the jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import Row, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from dpr.adapters.sql.errors import Boundary
from dpr.adapters.sql.tables import api_keys
from dpr.domain.api_key import ApiKey
from dpr.domain.errors import NoSuchKey
from dpr.ports.key_store import KeyStore


class SqlKeyStore(KeyStore):
    """A ``KeyStore`` on the job database. Every ``find`` reads the table (an index lookup by
    digest), so a key revoked by any instance is refused by all at once.

    Args:
        engine: the async engine shared with the job repository (which opens and migrates it).
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._boundary = Boundary(engine.url)

    async def add(self, key: ApiKey) -> None:
        row = msgspec.to_builtins(key, builtin_types=(datetime,))
        row["roles"] = sorted(key.roles)
        with self._boundary:
            try:
                async with self._auto.connect() as conn:
                    await conn.execute(insert(api_keys), row)
            except IntegrityError:
                raise ValueError(f"an API key with id {key.key_id!r} or the same digest exists") from None

    async def find(self, digest: str) -> ApiKey | None:
        with self._boundary:
            async with self._auto.connect() as conn:
                row = (await conn.execute(select(api_keys).where(api_keys.c.digest == digest))).one_or_none()
        return None if row is None else _to_key(row)

    async def all(self) -> list[ApiKey]:
        with self._boundary:
            async with self._auto.connect() as conn:
                rows = (await conn.execute(select(api_keys).order_by(api_keys.c.created, api_keys.c.key_id))).all()
        return [_to_key(row) for row in rows]

    async def revoke(self, key_id: str, at: datetime) -> ApiKey:
        first = update(api_keys).where(api_keys.c.key_id == key_id, api_keys.c.revoked.is_(None)).values(revoked=at)
        with self._boundary:
            async with self._auto.connect() as conn:
                await conn.execute(first)
                row = (await conn.execute(select(api_keys).where(api_keys.c.key_id == key_id))).one_or_none()
        if row is None:
            raise NoSuchKey(key_id)
        return _to_key(row)


def _to_key(row: Row[Any]) -> ApiKey:
    # SQLAlchemy's keys are a str subclass, which msgspec refuses as keys.
    return msgspec.convert({str(name): value for name, value in row._mapping.items()}, ApiKey)
