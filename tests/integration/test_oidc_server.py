"""A real ``dpr serve`` process accepting OpenID Connect tokens of a small issuer on
127.0.0.1: httpx and the CLI with a token, the issuer going down, and no token in the log."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.server import running_server
from tests.oidc_issuer import AUDIENCE, OidcIssuer, SigningKey, running_issuer
from tests.waiting import scaled, wait_for

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def key() -> SigningKey:
    return SigningKey("rsa-1")


@pytest.fixture(scope="module")
def issuer(key: SigningKey) -> Iterator[OidcIssuer]:
    with running_issuer(key) as running:
        yield running


@pytest.fixture(scope="module")
def server(issuer: OidcIssuer) -> Iterator[str]:
    env = {
        "DPR_AUTH_METHODS": "oidc",
        "DPR_AUTH_OIDC_ISSUER": issuer.url,
        "DPR_AUTH_OIDC_AUDIENCE": AUDIENCE,
        "DPR_AUTH_OIDC_JWKS_MIN_REFRESH": "0",  # each unknown key id asks the issuer (else once per 10 s)
    }
    with running_server("--ephemeral", env=env) as url:
        yield url


def server_log(url: str) -> str:
    port = url.rsplit(":", 1)[1]
    return (Path(os.environ.get("TMPDIR", "/tmp")) / f"dpr-server-{port}.log").read_text()


def cli(url: str, token: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "DPR_URL": url, "DPR_TOKEN": token}
    return subprocess.run([sys.executable, "-m", "dpr", *args], capture_output=True, text=True, env=env, timeout=120)


def test_a_token_runs_and_follows_a_job_others_see_nothing_and_the_cli_speaks_with_a_token(
    server: str, issuer: OidcIssuer, key: SigningKey
) -> None:
    alice, bob = issuer.token(key), issuer.token(key, sub="bob-sub", preferred_username="bob")
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        refused = client.get("/jobs")
        assert refused.status_code == 401 and "Bearer" in refused.headers["www-authenticate"]
        job = client.post(
            "/processes/mockup/execution",
            json={"inputs": {"duration": 0.2}},
            headers={"Authorization": f"Bearer {alice}", "Prefer": "respond-async"},
        ).json()["jobID"]

        def status() -> str:
            return client.get(f"/jobs/{job}", headers={"Authorization": f"Bearer {alice}"}).json()["status"]

        wait_for(lambda: status() == "successful", 60, "the job to succeed")
        assert client.get(f"/jobs/{job}", headers={"Authorization": f"Bearer {bob}"}).status_code == 404
    listed = cli(server, alice, "jobs", "list", "--json")
    assert listed.returncode == 0 and job in listed.stdout, listed.stderr
    expired = cli(server, issuer.token(key, exp=1), "jobs", "list")
    assert expired.returncode == 4 and "expired" in expired.stderr
    assert cli(server, bob, "jobs", "list", "--json").stdout.count(job) == 0
    assert alice not in server_log(server) and alice.rsplit(".", 1)[1] not in server_log(server)


def test_while_the_issuer_is_down_known_keys_work_and_a_new_key_is_503(
    server: str, issuer: OidcIssuer, key: SigningKey
) -> None:
    with httpx.Client(base_url=server, timeout=scaled(30)) as client:
        assert client.get("/jobs", headers={"Authorization": f"Bearer {issuer.token(key)}"}).status_code == 200
        issuer.down()
        try:
            assert client.get("/jobs", headers={"Authorization": f"Bearer {issuer.token(key)}"}).status_code == 200
            unknown = client.get("/jobs", headers={"Authorization": f"Bearer {issuer.token(SigningKey('rsa-2'))}"})
            assert unknown.status_code == 503 and int(unknown.headers["retry-after"]) > 0, unknown.text
        finally:
            issuer.up()
