"""The KeyStore contract, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from contract_support import at
from sqlalchemy.engine import make_url

from dpr.adapters.cached_key_store import CachedKeyStore
from dpr.adapters.memory_key_store import InMemoryKeyStore
from dpr.adapters.sql.engine import create_sql_engine
from dpr.adapters.sql.key_store import SqlKeyStore
from dpr.domain.api_key import ApiKey, digest
from dpr.domain.errors import NoSuchKey
from dpr.ports.key_store import KeyStore


@pytest.fixture(params=["direct", "cached"])
async def key_store(database_url: str | None, request: pytest.FixtureRequest) -> AsyncIterator[KeyStore]:
    """Each store as it is, and behind the cache API-key authentication reads it through."""

    def wrapped(store: KeyStore) -> KeyStore:
        return CachedKeyStore(store, ttl=60.0) if request.param == "cached" else store

    if database_url is None:
        yield wrapped(InMemoryKeyStore())
        return
    engine = create_sql_engine(make_url(database_url))
    try:
        yield wrapped(SqlKeyStore(engine))
    finally:
        await engine.dispose()


def make_key(key_id: str = "k1", secret: str = "dpr_secret-1", **overrides: object) -> ApiKey:
    fields: dict[str, object] = {"key_id": key_id, "digest": digest(secret), "owner": "alice", "created": at(0)}
    return ApiKey(**{**fields, **overrides})  # type: ignore[arg-type]


async def test_a_key_is_found_by_its_digest_with_every_field_as_stored(key_store: KeyStore) -> None:
    key = make_key(roles=frozenset({"admin", "ops"}), expires=at(3600))
    await key_store.add(key)
    assert await key_store.find(digest("dpr_secret-1")) == key


async def test_an_unknown_digest_finds_nothing(key_store: KeyStore) -> None:
    await key_store.add(make_key())
    assert await key_store.find(digest("dpr_secret-2")) is None


async def test_a_taken_id_or_digest_is_refused(key_store: KeyStore) -> None:
    await key_store.add(make_key())
    with pytest.raises(ValueError, match="exists"):
        await key_store.add(make_key("k1", "dpr_other"))
    with pytest.raises(ValueError, match="exists"):
        await key_store.add(make_key("k2", "dpr_secret-1"))
    assert [k.key_id for k in await key_store.all()] == ["k1"]


async def test_all_lists_keys_oldest_first_then_by_id(key_store: KeyStore) -> None:
    for key_id, secret, created in [("b", "s1", 5), ("c", "s2", 1), ("a", "s3", 5)]:
        await key_store.add(make_key(key_id, secret, created=at(created)))
    assert [k.key_id for k in await key_store.all()] == ["c", "a", "b"]


async def test_revoking_records_the_first_time_only_and_the_key_is_still_found(key_store: KeyStore) -> None:
    await key_store.add(make_key())
    assert (await key_store.revoke("k1", at(10))).revoked == at(10)
    assert (await key_store.revoke("k1", at(20))).revoked == at(10)
    found = await key_store.find(digest("dpr_secret-1"))
    assert found is not None and found.revoked == at(10)


async def test_revoking_an_unknown_key_raises_no_such_key(key_store: KeyStore) -> None:
    with pytest.raises(NoSuchKey):
        await key_store.revoke("nope", at(0))


async def test_a_key_found_then_revoked_is_found_revoked(key_store: KeyStore) -> None:
    await key_store.add(make_key())
    assert (await key_store.find(digest("dpr_secret-1"))).revoked is None  # type: ignore[union-attr]
    await key_store.revoke("k1", at(10))
    found = await key_store.find(digest("dpr_secret-1"))
    assert found is not None and found.revoked == at(10)
