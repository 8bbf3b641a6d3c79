"""Principals: whose jobs each may see."""

from __future__ import annotations

import msgspec
import pytest

from dpr.domain.principal import ANONYMOUS, Principal
from dpr.ports.authenticator import Credentials


def test_a_principal_without_the_admin_role_is_scoped_to_its_own_jobs():
    alice = Principal(subject="alice", display_name="Alice")
    assert not alice.is_admin and alice.owner_scope() == "alice"


def test_an_admin_is_scoped_to_every_job():
    root = Principal(subject="root", roles=frozenset({"admin", "ops"}))
    assert root.is_admin and root.owner_scope() is None


def test_anonymous_access_sees_every_job_as_before_identities_existed():
    assert ANONYMOUS.owner_scope() is None and ANONYMOUS.subject == "anonymous"


def test_a_principal_is_immutable_and_round_trips_through_json():
    alice = Principal(subject="alice", roles=frozenset({"ops"}))
    with pytest.raises(AttributeError):
        alice.subject = "mallory"  # type: ignore[misc]
    assert msgspec.json.decode(msgspec.json.encode(alice), type=Principal) == alice


def test_credentials_with_neither_a_key_nor_a_token_are_empty():
    assert Credentials().empty and Credentials(api_key="").empty
    assert not Credentials(bearer="t").empty


def test_a_resource_reserved_to_roles_is_open_to_holders_of_one_and_to_admins_only():
    ops = frozenset({"ops", "eopf"})
    assert Principal(subject="a").may_use(None)
    assert Principal(subject="a", roles=frozenset({"eopf"})).may_use(ops)
    assert Principal(subject="root", roles=frozenset({"admin"})).may_use(ops)
    assert not Principal(subject="a", roles=frozenset({"viewer"})).may_use(ops)
    assert not Principal(subject="a").may_use(frozenset())
