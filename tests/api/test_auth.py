"""Authentication and ownership through the API: who may call, and whose jobs each sees."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pytest
from litestar.testing import TestClient
from openapi_spec_validator import OpenAPIV30SpecValidator

from dpr.adapters.settings import (
    AuthSettings,
    ProcessDefinition,
    ProcessSettings,
    Settings,
    StorageSettings,
    ephemeral,
)
from dpr.entrypoints.container import Container, build_container
from dpr.entrypoints.http.app import create_app
from tests.ogc_schemas import check
from tests.unit.conftest import DEFINITIONS
from tests.waiting import wait_for

ASYNC = {"Prefer": "respond-async"}


def secured(methods: list[str] | None = None) -> Settings:
    settings = ephemeral(Settings(processes=ProcessSettings(definitions=DEFINITIONS)))
    return msgspec.structs.replace(settings, auth=AuthSettings(methods=methods or ["api_key"]))  # type: ignore[arg-type]


@pytest.fixture
def container() -> Container:
    return build_container(secured())


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with TestClient(create_app(container=container), base_url="http://dpr.test") as c:
        yield c


def new_key(client: TestClient, container: Container, owner: str, *roles: str) -> str:
    _, key = client.blocking_portal.call(container.keys().create, owner, frozenset(roles))
    return key


def as_(key: str) -> dict[str, str]:
    return {"x-api-key": key}


def submit(client: TestClient, key: str, duration: float = 0) -> str:
    response = client.post(
        "/processes/mockup/execution", json={"inputs": {"duration": duration}}, headers={**ASYNC, **as_(key)}
    )
    assert response.status_code == 201, response.text
    return response.json()["jobID"]


def assert_unauthenticated(response) -> None:
    assert response.status_code == 401, response.text
    check(response.json(), "exception.yaml")
    challenge = response.headers["www-authenticate"]
    assert "Bearer" in challenge and 'ApiKey realm="dpr", header="x-api-key"' in challenge


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/processes"),
        ("GET", "/processes/echo"),
        ("POST", "/processes/echo/execution"),
        ("GET", "/jobs"),
        ("GET", "/jobs/x"),
        ("GET", "/jobs/x/results"),
        ("GET", "/jobs/x/logs"),
        ("DELETE", "/jobs/x"),
        ("GET", "/dpr/jobs"),
        ("GET", "/dpr/processes"),
    ],
)
def test_every_route_about_processes_or_jobs_answers_401_naming_the_schemes_without_credentials(
    client: TestClient, method: str, path: str
) -> None:
    assert_unauthenticated(client.request(method, path))


@pytest.mark.parametrize("path", ["/", "/conformance", "/api", "/health", "/_mgmt/ping", "/api/docs/openapi.json"])
def test_the_landing_page_conformance_api_definition_and_probes_are_public(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 200


def test_a_key_is_accepted_from_the_key_header_and_as_a_bearer_token(client: TestClient, container: Container) -> None:
    key = new_key(client, container, "alice")
    assert client.get("/jobs", headers=as_(key)).status_code == 200
    assert client.get("/jobs", headers={"Authorization": f"Bearer {key}"}).status_code == 200


def test_an_unknown_or_revoked_key_is_refused_without_echoing_it(client: TestClient, container: Container) -> None:
    assert_unauthenticated(client.get("/jobs", headers=as_("dpr_guess")))
    assert "dpr_guess" not in client.get("/jobs", headers=as_("dpr_guess")).text
    record, key = client.blocking_portal.call(container.keys().create, "alice")
    assert client.get("/jobs", headers=as_(key)).status_code == 200
    client.blocking_portal.call(container.keys().revoke, record.key_id)
    response = client.get("/jobs", headers=as_(key))
    assert_unauthenticated(response)
    assert "revoked" in response.json()["detail"]


def test_each_principal_sees_and_dismisses_only_its_own_jobs_and_others_are_404(
    client: TestClient, container: Container
) -> None:
    alice, bob = new_key(client, container, "alice"), new_key(client, container, "bob")
    job = submit(client, alice, duration=30)
    assert client.get(f"/jobs/{job}", headers=as_(alice)).status_code == 200
    for method, path in [
        ("GET", f"/jobs/{job}"),
        ("GET", f"/jobs/{job}/results"),
        ("GET", f"/jobs/{job}/logs"),
        ("DELETE", f"/jobs/{job}"),
        ("GET", f"/dpr/jobs/{job}"),
        ("GET", f"/dpr/jobs/{job}/results"),
        ("DELETE", f"/dpr/jobs/{job}"),
    ]:
        response = client.request(method, path, headers=as_(bob))
        assert response.status_code == 404, (method, path, response.text)
    with client.stream("GET", f"/jobs/{job}/logs", headers={**as_(bob), "Accept": "text/event-stream"}) as stream:
        assert stream.status_code == 404
    assert client.get("/jobs", headers=as_(bob)).json()["jobs"] == []
    assert client.get("/dpr/jobs", headers=as_(bob)).json()["jobs"] == []
    assert [j["jobID"] for j in client.get("/jobs", headers=as_(alice)).json()["jobs"]] == [job]
    assert client.get(f"/jobs/{job}", headers=as_(alice)).json()["status"] in ("accepted", "running")
    assert client.delete(f"/jobs/{job}", headers=as_(alice)).status_code == 200


def test_the_job_records_its_owner_and_admins_see_and_filter_all(client: TestClient, container: Container) -> None:
    alice, bob = new_key(client, container, "alice"), new_key(client, container, "bob")
    admin = new_key(client, container, "root", "admin")
    mine, theirs = submit(client, alice), submit(client, bob)
    stored = client.blocking_portal.call(container.repository().get, mine)
    assert stored.owner == "alice"
    listed = {j["jobID"] for j in client.get("/jobs", headers=as_(admin)).json()["jobs"]}
    assert listed == {mine, theirs}
    filtered = client.get("/jobs", params={"owner": "bob"}, headers=as_(admin)).json()["jobs"]
    assert [j["jobID"] for j in filtered] == [theirs]
    assert client.get(f"/jobs/{mine}", headers=as_(admin)).status_code == 200


def test_the_owner_filter_is_for_admins_only(client: TestClient, container: Container) -> None:
    alice = new_key(client, container, "alice")
    response = client.get("/jobs", params={"owner": "bob"}, headers=as_(alice))
    assert response.status_code == 400 and "administrators" in response.json()["detail"]
    assert client.get("/jobs", params={"owner": "alice"}, headers=as_(alice)).status_code == 200


def test_keys_never_appear_in_responses_job_records_or_logs(
    client: TestClient, container: Container, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    key = new_key(client, container, "alice")
    job = submit(client, key)
    texts = [
        client.get(path, headers=as_(key)).text for path in ("/jobs", f"/jobs/{job}", f"/jobs/{job}/logs", "/dpr/jobs")
    ]
    texts.append(repr(client.blocking_portal.call(container.repository().get, job)))
    texts.append(repr(client.blocking_portal.call(container.key_store().all)))
    texts.append(caplog.text)
    assert all(key not in text and key[4:] not in text for text in texts)


def test_an_oidc_method_without_issuer_and_audience_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match=r"auth\.oidc\.issuer and auth\.oidc\.audience"):
        create_app(container=build_container(secured(["oidc"])))


def test_a_process_reserved_to_roles_is_403_for_others_and_runs_for_them_and_admins() -> None:
    reserved = ProcessDefinition(id="ops-echo", processor="dpr.adapters.processors.echo:EchoProcessor", roles=["ops"])
    settings = secured()
    settings = msgspec.structs.replace(settings, processes=ProcessSettings(definitions=[*DEFINITIONS, reserved]))
    container = build_container(settings)
    body = {"inputs": {"echo": "hi"}}
    with TestClient(create_app(container=container), base_url="http://dpr.test") as client:
        alice, ops = new_key(client, container, "alice"), new_key(client, container, "olga", "ops")
        admin = new_key(client, container, "root", "admin")
        for path in ("/processes/ops-echo/execution", "/dpr/processes/ops-echo/execution"):
            refused = client.post(path, json=body, headers=as_(alice))
            assert refused.status_code == 403 and "ops" in refused.text, refused.text
        check(client.post("/processes/ops-echo/execution", json=body, headers=as_(alice)).json(), "exception.yaml")
        assert client.post("/processes/ops-echo/execution", json=body, headers=as_(ops)).status_code == 200
        assert client.post("/processes/ops-echo/execution", json=body, headers=as_(admin)).status_code == 200
        assert client.post("/processes/echo/execution", json=body, headers=as_(alice)).status_code == 200
        assert client.get("/jobs", headers=as_(alice)).json()["jobs"][0]["processID"] == "echo"


def test_the_api_definition_declares_the_schemes_on_every_operation_but_the_public_ones(client: TestClient) -> None:
    api = client.get("/api", headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"}).json()
    OpenAPIV30SpecValidator(api).validate()
    schemes = api["components"]["securitySchemes"]
    assert schemes["ApiKey"] == {**schemes["ApiKey"], "type": "apiKey", "in": "header", "name": "x-api-key"}
    assert schemes["Bearer"]["scheme"] == "bearer" and api["security"] == [{"ApiKey": []}, {"Bearer": []}]
    assert api["paths"]["/conformance"]["get"]["security"] == [] and api["paths"]["/health"]["get"]["security"] == []
    assert "401" in api["paths"]["/jobs/{job_id}"]["get"]["responses"]
    assert "403" in api["paths"]["/processes/{process_id}/execution"]["post"]["responses"]


def test_an_anonymous_server_declares_no_security(container: Container) -> None:
    with TestClient(create_app(settings=ephemeral(Settings())), base_url="http://dpr.test") as anonymous:
        api = anonymous.get("/api", headers={"Accept": "application/vnd.oai.openapi+json;version=3.0"}).json()
    assert "security" not in api and "securitySchemes" not in api.get("components", {})


def test_the_sign_in_page_keeps_the_key_in_a_strict_httponly_cookie_the_pages_then_use(
    client: TestClient, container: Container
) -> None:
    key = new_key(client, container, "alice")
    page = client.get("/signin")
    assert page.status_code == 200 and 'name="api_key"' in page.text
    assert client.get("/jobs?f=html").status_code == 401
    refused = client.post("/signin", data={"api_key": "dpr_wrong"}, follow_redirects=False)
    assert refused.status_code == 401 and "set-cookie" not in refused.headers
    signed = client.post("/signin", data={"api_key": key}, follow_redirects=False)
    assert signed.status_code == 303 and signed.headers["location"].endswith("/jobs?f=html")
    cookie = signed.headers["set-cookie"].lower()
    assert "dpr_session=" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    assert "secure" not in cookie  # http here; https sets Secure
    page = client.get("/jobs?f=html")  # the client keeps the cookie
    assert page.status_code == 200 and "signed in as <strong>alice</strong>" in page.text
    assert key not in page.text
    out = client.post("/signout", follow_redirects=False)
    cleared = out.headers["set-cookie"].lower()
    assert out.status_code == 303 and "dpr_session=" in cleared and ("max-age=0" in cleared or "expires=" in cleared)
    client.cookies.clear()
    assert client.get("/jobs?f=html").status_code == 401


def test_the_session_cookie_is_secure_when_the_api_is_served_over_https(container: Container) -> None:
    with TestClient(create_app(container=container), base_url="https://dpr.test") as client:
        key = new_key(client, container, "alice")
        signed = client.post("/signin", data={"api_key": key}, follow_redirects=False)
    assert "secure" in signed.headers["set-cookie"].lower()


def test_a_key_revoked_on_one_instance_is_refused_by_another_within_its_cache_time(tmp_path: Path) -> None:
    """Two instances on one database, each caching key records for auth.key_cache seconds."""
    settings = msgspec.structs.replace(
        secured(), storage=StorageSettings(url=f"sqlite+aiosqlite:///{tmp_path / 'dpr.db'}")
    )
    settings = msgspec.structs.replace(settings, auth=msgspec.structs.replace(settings.auth, key_cache=1.0))
    one, other = build_container(settings), build_container(settings)
    with (
        TestClient(create_app(container=one), base_url="http://dpr.test") as first,
        TestClient(create_app(container=other), base_url="http://dpr.test") as second,
    ):
        record, key = first.blocking_portal.call(one.keys().create, "alice")
        assert second.get("/jobs", headers=as_(key)).status_code == 200  # made elsewhere, known at once
        first.blocking_portal.call(one.keys().revoke, record.key_id)
        assert first.get("/jobs", headers=as_(key)).status_code == 401  # at once where it was revoked
        # the other instance within its cache time (1 s here; the bound is for a busy machine)
        wait_for(lambda: second.get("/jobs", headers=as_(key)).status_code == 401, 10, "the revocation")
