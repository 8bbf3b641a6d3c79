"""Attacks on outbound requests (issue 14, section 2): internal addresses hidden in IPv6 forms,
DNS rebinding between the check and the connection, and malformed URLs that used to be 500s."""

from __future__ import annotations

import socket

import httpx
import pytest

from dpr.adapters.http_outbound import HttpReferenceFetcher
from dpr.adapters.url_guard import check_url, is_internal
from dpr.domain.errors import InvalidInput
from tests.integration.receiver import receiver
from tests.integration.server import running_server

EMBEDDING_INTERNAL = [
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:c0a8:1::1",  # 6to4 of 192.168.0.1
    "::127.0.0.1",  # IPv4-compatible
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:0:7f00:1",  # IPv4-translated
    "fec0::7f00:1",  # site-local
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
]


@pytest.mark.parametrize("address", EMBEDDING_INTERNAL)
async def test_ipv6_forms_that_embed_an_internal_address_are_refused(address):
    assert is_internal(address)
    with pytest.raises(InvalidInput, match="internal address"):
        await check_url(f"http://[{address}]:8080/x", allow_internal=False)


@pytest.mark.parametrize("address", ["2002:808:808::1", "64:ff9b::808:808", "2606:4700::1111"])
def test_ipv6_forms_that_embed_a_public_address_stay_allowed(address):
    assert not is_internal(address)


async def test_a_name_that_rebinds_to_loopback_after_the_check_is_never_connected_to(monkeypatch):
    """The first answer is public, every later one is the loopback peer: the fetcher must
    connect to the address it checked, so the peer never sees the request."""
    real = socket.getaddrinfo
    answers = {"count": 0}

    def rebinding(host, port, *args, **kwargs):
        if (host.decode() if isinstance(host, bytes) else host) != "rebind.example":  # anyio passes bytes
            return real(host, port, *args, **kwargs)
        answers["count"] += 1
        address = "1.1.1.1" if answers["count"] == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with receiver() as peer:
        port = peer.url.rsplit(":", 1)[1]
        peer.files["/secret"] = ("text/plain", b"internal only")
        fetcher = HttpReferenceFetcher(allow_internal=False, timeout=2)
        try:
            with pytest.raises(InvalidInput):
                await fetcher.fetch(f"http://rebind.example:{port}/secret")
        finally:
            await fetcher.close()
    assert answers["count"] == 1, "the name was resolved again after the check"


BAD_URLS = [
    "http://example.org:99999/x",
    "http://example.org:-1/x",
    "a:b:c",
    "http://[::1/x",
    "http://exam\nple.org/x",
    "http://example.org/\x00",
    "http://example.org/a\r\nX-Injected: 1",
]


@pytest.fixture(scope="module", params=["false", "true"], ids=["guarded", "internal-allowed"])
def server(request):
    with running_server("--ephemeral", env={"DPR_SECURITY_ALLOW_INTERNAL_URLS": request.param}) as url:
        yield url


@pytest.mark.parametrize("bad", BAD_URLS)
def test_a_malformed_href_is_a_400_at_submission(server, bad):
    response = httpx.post(f"{server}/processes/echo/execution", json={"inputs": {"echo": {"href": bad}}})
    assert response.status_code == 400, response.text
    assert response.json()["status"] == 400


@pytest.mark.parametrize("bad", BAD_URLS)
def test_the_original_route_refuses_the_same_malformed_hrefs(server, bad):
    response = httpx.post(f"{server}/dpr/processes/echo/execution", json={"echo": {"href": bad}})
    assert response.status_code == 400, response.text
    assert response.json()["status"] == 400


@pytest.mark.parametrize("bad", BAD_URLS)
def test_a_malformed_subscriber_is_a_400_at_submission(server, bad):
    body = {"inputs": {"echo": "x"}, "subscriber": {"successUri": bad}}
    response = httpx.post(f"{server}/processes/echo/execution", json=body, headers={"Prefer": "respond-async"})
    assert response.status_code == 400, response.text
