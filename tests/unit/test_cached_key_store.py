"""The API-key cache: a record is reused for a few seconds at most, so a key revoked through
another instance is refused within them; unknown keys are never remembered."""

from __future__ import annotations

from datetime import UTC, datetime

from dpr.adapters.cached_key_store import CachedKeyStore
from dpr.adapters.memory_key_store import InMemoryKeyStore
from dpr.domain.api_key import ApiKey, digest

T0 = datetime(2026, 1, 1, tzinfo=UTC)


class Ticks:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def key(secret: str = "dpr_one", key_id: str = "k1") -> ApiKey:
    return ApiKey(key_id=key_id, digest=digest(secret), owner="alice", created=T0)


async def test_a_key_revoked_through_another_instance_is_seen_revoked_once_the_ttl_has_passed() -> None:
    shared, ticks = InMemoryKeyStore(), Ticks()
    here, there = CachedKeyStore(shared, ttl=2.0, monotonic=ticks), CachedKeyStore(shared, ttl=2.0, monotonic=ticks)
    await there.add(key())
    assert (await here.find(digest("dpr_one"))).revoked is None  # type: ignore[union-attr]
    await there.revoke("k1", T0)
    ticks.now = 1.9
    assert (await here.find(digest("dpr_one"))).revoked is None  # type: ignore[union-attr]
    ticks.now = 2.0
    assert (await here.find(digest("dpr_one"))).revoked == T0  # type: ignore[union-attr]
    assert (await there.find(digest("dpr_one"))).revoked == T0  # type: ignore[union-attr]


async def test_an_unknown_key_is_not_remembered_so_a_key_made_elsewhere_works_at_once() -> None:
    shared = InMemoryKeyStore()
    here = CachedKeyStore(shared, ttl=60.0)
    assert await here.find(digest("dpr_one")) is None
    await shared.add(key())
    assert await here.find(digest("dpr_one")) == key()


async def test_the_cache_keeps_at_most_size_records_dropping_the_least_recently_found() -> None:
    shared = InMemoryKeyStore()
    here = CachedKeyStore(shared, ttl=60.0, size=2)
    for n in range(3):
        await shared.add(key(f"dpr_{n}", f"k{n}"))
        await here.find(digest(f"dpr_{n}"))
    assert list(here._found) == [digest("dpr_1"), digest("dpr_2")]
