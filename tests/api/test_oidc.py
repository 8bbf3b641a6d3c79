"""OpenID Connect bearer tokens through the API, against a small issuer on 127.0.0.1 whose
keys the tests make: what is accepted, what is refused and why, key rotation, and an issuer
that goes down."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import msgspec
import pytest
from litestar.testing import TestClient

from dpr.adapters.settings import (
    AuthSettings,
    OidcSettings,
    ProcessDefinition,
    ProcessSettings,
    Settings,
    StorageSettings,
    ephemeral,
)
from dpr.entrypoints.container import Container, build_container
from dpr.entrypoints.http.app import create_app
from tests.ogc_schemas import check
from tests.oidc_issuer import AUDIENCE, OidcIssuer, SigningKey, forged, running_issuer
from tests.unit.conftest import DEFINITIONS

RESERVED = ProcessDefinition(
    id="ops-echo", processor="dpr.adapters.processors.echo:EchoProcessor", roles=["processing"]
)


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return SigningKey("rsa-1")


@pytest.fixture(scope="module")
def ec_key() -> SigningKey:
    return SigningKey("ec-1", "ES256")


@pytest.fixture
def issuer(rsa_key: SigningKey, ec_key: SigningKey) -> Iterator[OidcIssuer]:
    with running_issuer(rsa_key, ec_key) as running:
        yield running


def settings_for(issuer: OidcIssuer, storage: str = "memory://", **oidc: Any) -> Settings:
    base = ephemeral(Settings(processes=ProcessSettings(definitions=[*DEFINITIONS, RESERVED])))
    auth = AuthSettings(methods=["api_key", "oidc"], oidc=OidcSettings(issuer=issuer.url, audience=AUDIENCE, **oidc))
    return msgspec.structs.replace(base, auth=auth, storage=StorageSettings(url=storage))


def serve(settings: Settings) -> TestClient:
    return TestClient(create_app(container=build_container(settings)), base_url="http://dpr.test")


@pytest.fixture
def container(issuer: OidcIssuer) -> Container:
    return build_container(settings_for(issuer, jwks_min_refresh=0))


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with TestClient(create_app(container=container), base_url="http://dpr.test") as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_refused(response: Any, reason: str) -> None:
    assert response.status_code == 401, response.text
    check(response.json(), "exception.yaml")
    assert reason in response.json()["detail"], response.json()
    assert "Bearer" in response.headers["www-authenticate"]


def test_a_valid_token_is_accepted_and_its_subject_owns_the_jobs_it_submits(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    for key in (rsa_key, ec_key):
        token = issuer.token(key)
        done = client.post("/processes/echo/execution", json={"inputs": {"echo": "hi"}}, headers=bearer(token))
        assert done.status_code == 200, done.text
    jobs = client.get("/jobs", headers=bearer(issuer.token(rsa_key))).json()["jobs"]
    assert len(jobs) == 2
    other = issuer.token(rsa_key, sub="someone-else", preferred_username="bob")
    assert client.get("/jobs", headers=bearer(other)).json()["jobs"] == []
    assert client.get(f"/jobs/{jobs[0]['jobID']}", headers=bearer(other)).status_code == 404


def test_roles_come_from_the_configured_claim_and_a_token_without_them_may_not_run_reserved_processes(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    body = {"inputs": {"echo": "hi"}}
    allowed = client.post("/processes/ops-echo/execution", json=body, headers=bearer(issuer.token(rsa_key)))
    assert allowed.status_code == 200, allowed.text
    roleless = issuer.token(rsa_key, realm_access=None)
    assert client.get("/jobs", headers=bearer(roleless)).status_code == 200
    refused = client.post("/processes/ops-echo/execution", json=body, headers=bearer(roleless))
    assert refused.status_code == 403, refused.text
    admin = issuer.token(rsa_key, sub="root", realm_access={"roles": ["admin"]})
    assert len(client.get("/jobs", headers=bearer(admin)).json()["jobs"]) == 1


def test_roles_may_be_read_from_another_claim(issuer: OidcIssuer, rsa_key: SigningKey) -> None:
    with serve(settings_for(issuer, roles_claim="resource_access.dpr.roles")) as client:
        body = {"inputs": {"echo": "hi"}}
        token = issuer.token(rsa_key, resource_access={"dpr": {"roles": ["processing"]}}, realm_access=None)
        assert client.post("/processes/ops-echo/execution", json=body, headers=bearer(token)).status_code == 200
        realm_only = issuer.token(rsa_key)
        assert client.post("/processes/ops-echo/execution", json=body, headers=bearer(realm_only)).status_code == 403


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": int(time.time()) - 3600}, "expired"),
        ({"aud": "another-service"}, "audience"),
        ({"iss": "http://127.0.0.1:1/realms/other"}, "another issuer"),
        ({"exp": None}, "lacks a required claim"),
        ({"sub": None}, "lacks a required claim"),
        ({"nbf": int(time.time()) + 3600}, "not valid yet"),
    ],
    ids=["expired", "wrong-audience", "wrong-issuer", "no-exp", "no-sub", "not-yet-valid"],
)
def test_a_token_with_bad_claims_is_refused_saying_why(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey, overrides: dict[str, Any], reason: str
) -> None:
    assert_refused(client.get("/jobs", headers=bearer(issuer.token(rsa_key, **overrides))), reason)


def test_a_token_expired_within_the_leeway_is_still_accepted(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    token = issuer.token(rsa_key, exp=int(time.time()) - 5)
    assert client.get("/jobs", headers=bearer(token)).status_code == 200


def test_a_token_signed_by_a_key_the_issuer_does_not_hold_is_refused(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    impostor = SigningKey(rsa_key.kid)  # same kid, another private key
    assert_refused(client.get("/jobs", headers=bearer(issuer.token(impostor))), "signature")
    tampered = issuer.token(rsa_key).split(".")
    tampered[1] = issuer.token(rsa_key, sub="root", realm_access={"roles": ["admin"]}).split(".")[1]
    assert_refused(client.get("/jobs", headers=bearer(".".join(tampered))), "signature")


def test_unsigned_and_hmac_tokens_keyed_with_the_public_key_are_refused(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    claims = issuer.claims(realm_access={"roles": ["admin"]})
    for header in ({"alg": "none", "typ": "JWT"}, {"alg": "none", "kid": rsa_key.kid}):
        assert_refused(client.get("/jobs", headers=bearer(forged(header, claims, None))), "algorithm")
    for secret in (rsa_key.public_pem(), msgspec.json.encode(rsa_key.jwk)):
        token = forged({"alg": "HS256", "kid": rsa_key.kid, "typ": "JWT"}, claims, secret)
        assert_refused(client.get("/jobs", headers=bearer(token)), "algorithm")


def test_an_rs_token_naming_an_ec_key_is_refused(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey, ec_key: SigningKey
) -> None:
    token = issuer.token(rsa_key).split(".")
    swapped = forged({"alg": "RS256", "kid": ec_key.kid}, issuer.claims(), None).split(".")
    assert_refused(client.get("/jobs", headers=bearer(".".join([swapped[0], token[1], token[2]]))), "algorithm")


def test_rotated_keys_are_fetched_when_a_token_names_a_new_key_id(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
    rotated = SigningKey("rsa-2")
    issuer.publish(rotated)
    assert client.get("/jobs", headers=bearer(issuer.token(rotated))).status_code == 200
    assert_refused(client.get("/jobs", headers=bearer(issuer.token(SigningKey("never")))), "does not publish")


def test_a_flood_of_unknown_key_ids_fetches_the_key_set_at_most_once_per_interval(
    issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    with serve(settings_for(issuer, jwks_min_refresh=3600)) as client:
        assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
        fetched = issuer.jwks_requests
        for n in range(30):
            made_up = SigningKey(f"made-up-{n}", private=rsa_key.private)
            assert_refused(client.get("/jobs", headers=bearer(issuer.token(made_up))), "does not publish")
        assert issuer.jwks_requests - fetched <= 1


def test_while_the_issuer_is_down_cached_keys_still_work_and_unknown_ones_are_503_with_retry_after(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
    issuer.down()
    assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
    unknown = client.get("/jobs", headers=bearer(issuer.token(SigningKey("rsa-new"))))
    assert unknown.status_code == 503, unknown.text
    check(unknown.json(), "exception.yaml")
    assert int(unknown.headers["retry-after"]) > 0
    issuer.up()
    rotated = SigningKey("rsa-3")
    issuer.publish(rsa_key, rotated)
    assert client.get("/jobs", headers=bearer(issuer.token(rotated))).status_code == 200


def test_an_issuer_down_from_the_start_is_503_not_401(issuer: OidcIssuer, rsa_key: SigningKey) -> None:
    issuer.down()
    with serve(settings_for(issuer)) as client:
        response = client.get("/jobs", headers=bearer(issuer.token(rsa_key)))
    assert response.status_code == 503 and "retry-after" in response.headers, response.text


def test_api_keys_still_work_next_to_tokens_in_either_header(
    client: TestClient, container: Container, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    _, key = client.blocking_portal.call(container.keys().create, "0b8c6a4e-user-alice", frozenset())
    job = client.post("/processes/echo/execution", json={"inputs": {"echo": "k"}}, headers={"x-api-key": key})
    assert job.status_code == 200
    for headers in ({"x-api-key": key}, bearer(key), bearer(issuer.token(rsa_key))):
        assert len(client.get("/jobs", headers=headers).json()["jobs"]) == 1, headers
    assert_refused(client.get("/jobs", headers=bearer("not-a-key-nor-a-token")), "no kind")


def test_tokens_never_appear_in_responses_job_records_the_database_or_logs(
    issuer: OidcIssuer, rsa_key: SigningKey, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    database = tmp_path / "dpr.db"
    container = build_container(settings_for(issuer, f"sqlite+aiosqlite:///{database}"))
    token, expired = issuer.token(rsa_key), issuer.token(rsa_key, exp=int(time.time()) - 3600)
    with TestClient(create_app(container=container), base_url="http://dpr.test") as client:
        job = client.post(
            "/processes/echo/execution",
            json={"inputs": {"echo": "t"}},
            headers={**bearer(token), "Prefer": "respond-async"},
        ).json()["jobID"]
        paths = ("/jobs", f"/jobs/{job}", f"/jobs/{job}/results", f"/jobs/{job}/logs", "/dpr/jobs", f"/dpr/jobs/{job}")
        texts = [client.get(path, headers=bearer(token)).text for path in paths]
        texts += [
            client.get("/jobs", headers=bearer(expired)).text,
            client.get("/jobs", headers=bearer(expired[:-4])).text,
        ]
        texts.append(repr(client.blocking_portal.call(container.repository().get, job)))
    texts += [database.read_bytes().decode(errors="replace"), caplog.text]
    signatures = (token.rsplit(".", 1)[1], expired.rsplit(".", 1)[1])
    assert all(token not in text and all(s not in text for s in signatures) for text in texts)


@pytest.mark.parametrize("algorithms", [["HS256"], ["RS256", "none"], []])
def test_symmetric_or_no_algorithms_are_refused_at_start_up(issuer: OidcIssuer, algorithms: list[str]) -> None:
    with pytest.raises(ValueError, match="asymmetric"):
        create_app(container=build_container(settings_for(issuer, algorithms=algorithms)))


def test_the_api_definition_declares_bearer_jwts_of_the_issuer_next_to_api_keys(
    client: TestClient, issuer: OidcIssuer
) -> None:
    api = client.get("/api", headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"}).json()
    schemes = api["components"]["securitySchemes"]
    assert schemes["Bearer"]["bearerFormat"] == "JWT" and issuer.url in schemes["Bearer"]["description"]
    assert set(schemes) == {"ApiKey", "Bearer"} and api["security"] == [{"ApiKey": []}, {"Bearer": []}]
    with serve(
        msgspec.structs.replace(
            settings_for(issuer),
            auth=AuthSettings(methods=["oidc"], oidc=OidcSettings(issuer=issuer.url, audience=AUDIENCE)),
        )
    ) as oidc_only:
        api = oidc_only.get("/api", headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"}).json()
    assert set(api["components"]["securitySchemes"]) == {"Bearer"} and api["security"] == [{"Bearer": []}]


def test_known_keys_outlive_their_cache_time_while_the_issuer_is_down(issuer: OidcIssuer, rsa_key: SigningKey) -> None:
    with serve(settings_for(issuer, jwks_cache=0, jwks_min_refresh=0)) as client:
        assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
        issuer.down()
        for _ in range(3):  # each request finds the keys stale and tries the issuer in the background
            assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
        issuer.up()
        rotated = SigningKey("rsa-9")
        issuer.publish(rsa_key, rotated)
        assert client.get("/jobs", headers=bearer(issuer.token(rotated))).status_code == 200


def compact(header: bytes, claims: bytes, signature: str = "AAAA") -> str:
    return ".".join([*(base64.urlsafe_b64encode(part).rstrip(b"=").decode() for part in (header, claims)), signature])


@pytest.mark.parametrize(
    "token",
    [
        "eyJ.eyJ.x",
        compact(b"[]", b"{}"),
        compact(b'{"alg": "RS256", "kid": [1]}', b"{}"),
        compact(b'{"alg": ["RS256"]}', b"{}"),
        compact(b'{"alg": "RS256", "kid": "rsa-1"}', b"not json"),
        compact(b'{"alg": "RS256", "kid": "rsa-1"}', b"[1, 2]"),
        compact(b'{"alg": "RS256", "kid": "rsa-1"}', b"{}", "%%%"),
        "ey" + "A" * 20_000 + ".e30.AAAA",
    ],
    ids=["short", "header-array", "kid-list", "alg-list", "claims-not-json", "claims-array", "bad-signature", "huge"],
)
def test_a_malformed_token_is_a_401_never_a_500(client: TestClient, token: str) -> None:
    response = client.get("/jobs", headers=bearer(token))
    assert response.status_code == 401, response.text
    check(response.json(), "exception.yaml")


def test_malformed_symmetric_and_encryption_keys_in_the_key_set_are_ignored_alone(
    client: TestClient, issuer: OidcIssuer, rsa_key: SigningKey
) -> None:
    odd = [
        {"kty": "RSA", "kid": "no-modulus"},
        {"kty": "RSA", "kid": "bad-modulus", "n": "!!", "e": "AQAB"},
        {"kty": "oct", "kid": "shared", "k": "c2VjcmV0"},
        {"kty": "RSA", "kid": "enc", "use": "enc", **{k: rsa_key.jwk[k] for k in ("n", "e")}},
        "not a key",
    ]
    issuer.published = [rsa_key, *(SimpleNamespace(jwk=jwk) for jwk in odd)]  # type: ignore[list-item]
    assert client.get("/jobs", headers=bearer(issuer.token(rsa_key))).status_code == 200
    hmac_token = forged({"alg": "HS256", "kid": "shared"}, issuer.claims(), b"secret")
    assert_refused(client.get("/jobs", headers=bearer(hmac_token)), "algorithm")
    as_enc = SigningKey("enc", private=rsa_key.private)
    assert_refused(client.get("/jobs", headers=bearer(issuer.token(as_enc))), "does not publish")
