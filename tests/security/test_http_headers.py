"""Cross-origin and framing attacks (issue 14, section 4): no other origin may call the API
unless configured, every response forbids framing and sniffing, the pages run only their own
script, and the Dismiss button asks before it cancels."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dpr.adapters.settings import ProcessSettings, ServerSettings, Settings, ephemeral
from dpr.entrypoints.http.app import create_app
from tests.unit.conftest import DEFINITIONS

EVIL = "http://evil.example"


def client_for(server: ServerSettings | None = None) -> TestClient:
    settings = Settings(processes=ProcessSettings(definitions=DEFINITIONS), server=server or ServerSettings())
    return TestClient(create_app(ephemeral(settings)), base_url="http://dpr.test")


@pytest.fixture
def client() -> Iterator[TestClient]:
    with client_for() as c:
        yield c


def test_by_default_no_other_origin_may_read_or_preflight(client):
    simple = client.get("/jobs", headers={"Origin": EVIL})
    assert "access-control-allow-origin" not in simple.headers
    for path in ("/processes/echo/execution", "/dpr/processes/echo/execution"):
        preflight = client.options(
            path,
            headers={
                "Origin": EVIL,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type",
            },
        )
        assert "access-control-allow-origin" not in preflight.headers
    assert "access-control-allow-origin" not in client.get("/dpr/jobs", headers={"Origin": EVIL}).headers


def test_only_the_configured_origins_are_allowed():
    with client_for(ServerSettings(cors_origins=["https://portal.example"])) as client:
        allowed = client.get("/jobs", headers={"Origin": "https://portal.example"})
        assert allowed.headers["access-control-allow-origin"] == "https://portal.example"
        assert "access-control-allow-origin" not in client.get("/jobs", headers={"Origin": EVIL}).headers


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/jobs",
        "/processes/echo?f=html",
        "/jobs/nope",
        "/no/such/route",
        "/api",
        "/api/docs",
        "/health",
        "/dpr/processes",
        "/dpr/jobs",
        "/dpr/jobs/nope",
    ],
)
def test_every_response_forbids_framing_sniffing_and_referrers(client, path):
    headers = client.get(path).headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert headers["referrer-policy"] == "no-referrer"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.parametrize("path", ["/?f=html", "/processes/echo?f=html", "/jobs?f=html", "/jobs/nope?f=html"])
def test_pages_run_only_their_own_nonce_marked_script_and_style(client, path):
    page = client.get(path)
    policy = page.headers["content-security-policy"]
    nonce = re.search(r"script-src 'nonce-([^']+)'", policy).group(1)
    assert "unsafe-inline" not in policy and "default-src 'none'" in policy
    tags = re.findall(r"<(script|style)\b([^>]*)>", page.text)
    assert tags and all(f'nonce="{nonce}"' in attributes for _, attributes in tags)
    assert client.get(path).headers["content-security-policy"] != policy  # a fresh nonce each time


def test_the_dismiss_button_asks_for_confirmation(client):
    job = client.post(
        "/processes/echo/execution", json={"inputs": {"echo": "x"}}, headers={"Prefer": "respond-async"}
    ).json()["jobID"]
    page = client.get(f"/jobs/{job}?f=html").text
    assert "window.confirm(dismiss.dataset.confirm)" in page and "data-confirm=" in page
