"""API keys: made once, stored as a digest, refused once expired or revoked."""

from __future__ import annotations

from datetime import timedelta

import pytest

from dpr.adapters.api_key_authenticator import ApiKeyAuthenticator
from dpr.adapters.clock import ManualClock
from dpr.adapters.memory_key_store import InMemoryKeyStore
from dpr.domain.api_key import PREFIX, digest
from dpr.domain.errors import BadCredentials, InvalidParameter
from dpr.domain.principal import ANONYMOUS, Principal
from dpr.ports.authenticator import Credentials
from dpr.services.identity import Identification
from dpr.services.keys import KeyManagement


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def store() -> InMemoryKeyStore:
    return InMemoryKeyStore()


@pytest.fixture
def keys(store: InMemoryKeyStore, clock: ManualClock) -> KeyManagement:
    return KeyManagement(store=store, clock=clock)


@pytest.fixture
def identification(store: InMemoryKeyStore, clock: ManualClock) -> Identification:
    return Identification([ApiKeyAuthenticator(store, clock)])


async def test_a_new_key_has_256_random_bits_and_only_its_digest_is_stored(keys: KeyManagement) -> None:
    record, key = await keys.create("alice")
    other_record, other = await keys.create("alice")
    assert key.startswith(PREFIX) and len(key) - len(PREFIX) >= 43  # 32 bytes in URL-safe base64
    assert key != other and record.key_id != other_record.key_id
    assert record.digest == digest(key) and key not in repr(await keys.all())


async def test_a_key_authenticates_its_owner_with_its_roles_from_either_header(
    keys: KeyManagement, identification: Identification
) -> None:
    _, key = await keys.create("ops", frozenset({"admin"}))
    expected = Principal(subject="ops", display_name="ops", roles=frozenset({"admin"}))
    assert await identification.identify(Credentials(api_key=key)) == expected
    assert await identification.identify(Credentials(bearer=key)) == expected


@pytest.mark.parametrize(
    "credentials",
    [
        Credentials(),
        Credentials(api_key="dpr_not-a-key"),
        Credentials(bearer="dpr_not-a-key"),
        Credentials(bearer="e.j.w"),
    ],
)
async def test_missing_unknown_or_foreign_credentials_are_refused(
    identification: Identification, credentials: Credentials
) -> None:
    with pytest.raises(BadCredentials) as refused:
        await identification.identify(credentials)
    assert "not-a-key" not in str(refused.value)


async def test_a_revoked_key_is_refused_at_the_next_request(
    keys: KeyManagement, identification: Identification
) -> None:
    record, key = await keys.create("alice")
    await identification.identify(Credentials(api_key=key))
    await keys.revoke(record.key_id)
    with pytest.raises(BadCredentials, match="revoked"):
        await identification.identify(Credentials(api_key=key))


async def test_a_key_is_refused_from_its_expiry_on(
    keys: KeyManagement, identification: Identification, clock: ManualClock
) -> None:
    _, key = await keys.create("alice", expires=clock.now() + timedelta(hours=1))
    clock.advance(3599)
    await identification.identify(Credentials(api_key=key))
    clock.advance(1)
    with pytest.raises(BadCredentials, match="expired"):
        await identification.identify(Credentials(api_key=key))


async def test_an_empty_owner_or_a_past_expiry_is_refused(keys: KeyManagement, clock: ManualClock) -> None:
    with pytest.raises(InvalidParameter, match="owner"):
        await keys.create(" ")
    with pytest.raises(InvalidParameter, match="expires"):
        await keys.create("alice", expires=clock.now())


async def test_without_authenticators_every_caller_is_anonymous_whatever_it_sends() -> None:
    anonymous = Identification([])
    assert anonymous.anonymous and anonymous.schemes == []
    assert await anonymous.identify(Credentials(api_key="dpr_anything")) == ANONYMOUS
