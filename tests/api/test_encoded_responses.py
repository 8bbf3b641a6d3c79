"""``Encoded``: a pre-encoded body goes out as it is, and Litestar's path still serves what it adds."""

from __future__ import annotations

from litestar import Response, get
from litestar.datastructures import Cookie, ResponseHeader
from litestar.testing import create_test_client

from dpr.entrypoints.http.common import json_response


@get("/doc")
async def doc() -> Response[bytes]:
    return json_response({"a": "é"}, 201, {"Link": "<http://x/doc>; rel=self", "Vary": "Accept"})


@get("/empty")
async def empty() -> Response[bytes]:
    return json_response(None, 204)


@get("/text")
async def text() -> Response[bytes]:
    return json_response("plain", media_type="text/plain")


@get("/with-cookie")
async def with_cookie() -> Response[bytes]:
    response = json_response({"signed": True})
    response.cookies.append(Cookie(key="session", value="v", httponly=True))
    return response


@get("/layered", response_headers=[ResponseHeader(name="X-Layer", value="yes")])
async def layered() -> Response[bytes]:
    return json_response({"layered": True})


def test_the_body_status_and_headers_go_out_as_given() -> None:
    with create_test_client([doc, empty, text]) as client:
        answer = client.get("/doc")
        assert answer.status_code == 201
        assert answer.content == '{"a":"é"}'.encode()
        assert answer.headers["content-type"] == "application/json"
        assert answer.headers["content-length"] == str(len(answer.content))
        assert answer.headers["link"] == "<http://x/doc>; rel=self"
        assert answer.headers["vary"] == "Accept"
        nothing = client.get("/empty")
        assert (nothing.status_code, nothing.content, nothing.headers.get("content-length")) == (204, b"", None)
        assert client.get("/text").headers["content-type"] == "text/plain; charset=utf-8"


def test_cookies_and_headers_of_other_layers_are_not_lost() -> None:
    with create_test_client([with_cookie, layered]) as client:
        answer = client.get("/with-cookie")
        assert answer.json() == {"signed": True}
        assert answer.cookies["session"] == "v"
        layer = client.get("/layered")
        assert layer.json() == {"layered": True}
        assert layer.headers["x-layer"] == "yes"
