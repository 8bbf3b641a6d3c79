"""Forged ``Host`` headers (issue 14, section 4), against real servers: with ``server.base_url``
or ``server.trusted_hosts`` configured, a client cannot make the server write links (``Location``,
``Link``, pages) to a host of its choosing."""

from __future__ import annotations

import httpx
import pytest

from tests.integration.server import running_server

EVIL = "evil.example"
ASYNC = {"Prefer": "respond-async"}
BODY = {"inputs": {"echo": "x"}}


@pytest.fixture(scope="module")
def trusting_loopback():
    with running_server("--ephemeral", env={"DPR_SERVER_TRUSTED_HOSTS": "127.0.0.1,dpr.example:8443"}) as url:
        yield url


def test_a_request_naming_an_untrusted_host_is_refused_with_a_400(trusting_loopback):
    with httpx.Client(base_url=trusting_loopback, headers={"Host": EVIL}, timeout=10) as client:
        for response in (
            client.post("/processes/echo/execution", json=BODY, headers=ASYNC),
            client.get("/jobs"),
            client.get("/", params={"f": "html"}),
        ):
            assert response.status_code == 400, response.text
            assert "Host" in response.text and EVIL not in response.text
        not_found = client.get("/no/such/page", params={"f": "html"})
        assert not_found.status_code == 404 and EVIL not in not_found.text


def test_trusted_hosts_get_links_to_themselves(trusting_loopback):
    port = trusting_loopback.rsplit(":", 1)[1]
    for host, root in (
        (f"127.0.0.1:{port}", f"http://127.0.0.1:{port}"),
        ("dpr.example:8443", "http://dpr.example:8443"),
    ):
        with httpx.Client(base_url=trusting_loopback, headers={"Host": host}, timeout=10) as client:
            created = client.post("/processes/echo/execution", json=BODY, headers=ASYNC)
            assert created.status_code == 201 and created.headers["location"].startswith(f"{root}/jobs/")
    with httpx.Client(base_url=trusting_loopback, headers={"Host": "dpr.example:9999"}, timeout=10) as client:
        assert client.get("/jobs").status_code == 400  # that host, but on a port not listed


def test_with_a_base_url_a_forged_host_changes_no_link():
    with running_server("--ephemeral", env={"DPR_SERVER_BASE_URL": "https://dpr.example/api"}) as url:
        with httpx.Client(base_url=url, headers={"Host": EVIL}, timeout=10) as client:
            created = client.post("/processes/echo/execution", json=BODY, headers=ASYNC)
            assert created.headers["location"].startswith("https://dpr.example/api/jobs/")
            job = client.get(created.headers["location"].replace("https://dpr.example/api", ""))
            assert EVIL not in job.headers["link"] and EVIL not in job.text
            page = client.get("/processes/echo", params={"f": "html"})
            assert page.status_code == 200 and EVIL not in page.text and EVIL not in page.headers["link"]
