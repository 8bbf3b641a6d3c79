"""The process list is encoded once per base URL and page, and served from there after: the
same document a fresh encoding gives, with links to the host each request may name."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import msgspec
import pytest
from litestar import Request, Response
from litestar.testing import TestClient

from dpr.adapters.settings import AuthSettings, ProcessDefinition, ProcessSettings, ServerSettings, Settings, ephemeral
from dpr.entrypoints.container import build_container
from dpr.entrypoints.http.app import create_app
from dpr.entrypoints.http.common import base_url
from dpr.entrypoints.http.encoded import EncodedResponses
from tests.ogc_schemas import check
from tests.unit.conftest import DEFINITIONS


def serving(**server: object) -> Iterator[TestClient]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    settings = ephemeral(Settings(processes=ProcessSettings(definitions=DEFINITIONS), server=ServerSettings(**server)))
    with TestClient(create_app(container=build_container(settings)), base_url="http://dpr.test") as client:
        yield client


@pytest.fixture
def client() -> Iterator[TestClient]:
    yield from serving()


def roots(response) -> set[str]:
    """The scheme and host of every link of a process list, in the body and the ``Link`` header."""
    doc = response.json()
    hrefs = [link["href"] for link in doc["links"]] + [
        link["href"] for process in doc["processes"] for link in process["links"]
    ]
    hrefs += re.findall(r"<([^>]+)>", response.headers["link"])
    return {re.match(r"https?://[^/]+", href).group(0) for href in hrefs}  # type: ignore[union-attr]


def test_a_list_served_again_is_the_document_first_encoded_with_every_header(client: TestClient) -> None:
    first, again = client.get("/processes"), client.get("/processes")
    assert first.status_code == again.status_code == 200
    check(again.json(), "processList.yaml")
    assert again.content == first.content and again.headers["link"] == first.headers["link"]
    for name in ("vary", "content-type", "x-content-type-options", "content-security-policy"):
        assert again.headers[name] == first.headers[name]


def test_each_host_gets_links_to_itself_even_after_another_was_served(client: TestClient) -> None:
    for host in ("a.example", "b.example:8080", "a.example"):
        assert roots(client.get("/processes", headers={"Host": host})) == {f"http://{host}"}


def test_each_page_is_its_own_document(client: TestClient) -> None:
    everything = client.get("/processes").json()["processes"]
    second = client.get("/processes", params={"limit": 1, "offset": 1}).json()["processes"]
    assert [p["id"] for p in second] == [everything[1]["id"]]
    assert len(client.get("/processes").json()["processes"]) == len(everything)


def test_with_trusted_hosts_a_cached_list_is_never_served_to_another_host() -> None:
    for client in serving(trusted_hosts=["dpr.test", "mirror.example"]):
        assert roots(client.get("/processes")) == {"http://dpr.test"}
        assert roots(client.get("/processes", headers={"Host": "mirror.example"})) == {"http://mirror.example"}
        refused = client.get("/processes", headers={"Host": "evil.example"})
        assert refused.status_code == 400 and "evil.example" not in refused.text


def test_with_a_base_url_every_host_gets_links_to_it() -> None:
    for client in serving(base_url="https://dpr.example/api"):
        for host in ("dpr.test", "evil.example"):
            assert roots(client.get("/processes", headers={"Host": host})) == {"https://dpr.example"}


def test_html_pages_are_rendered_for_each_request(client: TestClient) -> None:
    first, again = (client.get("/processes", params={"f": "html"}) for _ in range(2))
    assert first.status_code == again.status_code == 200 and "text/html" in again.headers["content-type"]
    assert first.headers["content-security-policy"] != again.headers["content-security-policy"]  # own nonce


def test_callers_with_different_roles_are_listed_the_same_processes() -> None:
    """What the cache relies on: the list does not depend on who asks (a process reserved to a
    role is listed for everyone, and refused at execution). If it ever did, the key would need
    the caller's roles."""
    reserved = ProcessDefinition(id="ops-echo", processor="dpr.adapters.processors.echo:EchoProcessor", roles=["ops"])
    settings = ephemeral(Settings(processes=ProcessSettings(definitions=[*DEFINITIONS, reserved])))
    settings = msgspec.structs.replace(settings, auth=AuthSettings(methods=["api_key"]))
    container = build_container(settings)
    with TestClient(create_app(container=container), base_url="http://dpr.test") as client:
        keys = [
            client.blocking_portal.call(container.keys().create, owner, frozenset(roles))[1]
            for owner, roles in (("olga", {"ops"}), ("alice", set()))
        ]
        lists = [client.get("/processes", headers={"x-api-key": key}) for key in keys]
        assert lists[0].status_code == lists[1].status_code == 200
        assert lists[0].content == lists[1].content and "ops-echo" in lists[0].text
        assert client.get("/processes").status_code == 401  # still authenticated first


def test_the_store_keeps_the_most_recently_used_answers_only() -> None:
    store, made = EncodedResponses(max_entries=2), []

    def make(key: str):
        return lambda: made.append(key) or Response(content=key.encode(), media_type="application/json")

    for key in ("a", "b", "a", "c", "a", "b"):
        assert store.get(key, make(key)).content == key.encode()
    assert made == ["a", "b", "c", "b"] and len(store) == 2  # "b" was the least recent when "c" came


@pytest.mark.parametrize(
    "scope",
    [
        {"scheme": "http", "server": ("127.0.0.1", 8000), "headers": [(b"host", b"dpr.test")]},
        {"scheme": "http", "server": ("127.0.0.1", 8000), "headers": [(b"host", b"dpr.test:8080")]},
        {"scheme": "https", "server": ("10.0.0.1", 443), "headers": []},
        {"scheme": "https", "server": ("10.0.0.1", 8443), "headers": [], "root_path": "/api"},
        {"scheme": "http", "server": ("::1", 80), "headers": [(b"host", b"[::1]")], "app_root_path": "/dpr"},
        {"scheme": "http", "server": None, "headers": [(b"host", b"example.org")]},
    ],
)
def test_the_base_url_worked_out_once_per_host_is_the_one_litestar_derives(scope: dict[str, object]) -> None:
    """Links are built from a base URL remembered per scheme, server, root path and ``Host``:
    for each it must be exactly what Litestar derives from the request itself."""
    full = {"type": "http", "method": "GET", "path": "/processes", "query_string": b"", "root_path": "", **scope}
    settings = Settings()
    remembered = base_url(Request(full), settings)
    assert remembered == str(Request(full).base_url).rstrip("/")
    assert base_url(Request(full), settings) == remembered
