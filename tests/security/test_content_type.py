"""Cross-site form posts (issue 14, section 4): a browser sends ``text/plain`` and form bodies to
any origin without asking first, so the execute routes take only bodies declared JSON."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integration.server import running_server

BODY = b'{"inputs": {"echo": "from another site"}}'
DPR_BODY = b'{"duration": 1}'


@pytest.fixture(scope="module")
def server() -> Iterator[httpx.Client]:
    with running_server("--ephemeral") as url, httpx.Client(base_url=url, timeout=10) as client:
        yield client


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None]
)
@pytest.mark.parametrize(
    ("path", "body"), [("/processes/echo/execution", BODY), ("/dpr/processes/mockup/execution", DPR_BODY)]
)
def test_an_execute_body_not_declared_json_is_refused_with_a_415(server, path, body, content_type):
    headers = {"Content-Type": content_type} if content_type else {}
    response = server.post(path, content=body, headers=headers)  # raw bytes: httpx adds no type
    assert response.status_code == 415, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert "application/json" in response.json()["detail"]
    assert server.get("/jobs").json()["jobs"] == []


@pytest.mark.parametrize("content_type", ["application/json", "application/json; charset=utf-8", "application/x+json"])
def test_a_body_declared_json_is_executed(server, content_type):
    response = server.post("/processes/echo/execution", content=BODY, headers={"Content-Type": content_type})
    assert response.status_code == 200
