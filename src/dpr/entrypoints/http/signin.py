"""``/signin`` and ``/signout``: the HTML pages' session, an API key kept in a cookie.

A browser cannot send the key header, so the sign-in form takes the key and, once it
authenticates, keeps it in an HttpOnly (no script reads it), SameSite=Strict (no other site's
page sends it) cookie, Secure when the API is served over https. The guard reads the cookie
when a request carries neither the key header nor a bearer token.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.datastructures import Cookie
from litestar.response import Redirect, Template

from dpr.entrypoints.http.auth import PUBLIC, SESSION_COOKIE
from dpr.entrypoints.http.common import base_url, services
from dpr.entrypoints.http.respond import html_page
from dpr.ports.authenticator import Credentials


@get("/signin", summary="The sign-in page", include_in_schema=False, opt=PUBLIC)
async def signin_page(request: Request) -> Template:
    return html_page(request, "signin.html", {})


@post("/signin", summary="Sign in with an API key", include_in_schema=False, opt=PUBLIC, status_code=303)
async def signin(request: Request) -> Response[Any]:
    settings = services(request).settings
    key = str((await request.form()).get("api_key", "")).strip()
    await request.app.state.identification.identify(Credentials(api_key=key))  # 401 when refused
    secure = base_url(request, settings).startswith("https:")
    cookie = Cookie(key=SESSION_COOKIE, value=key, httponly=True, samesite="strict", secure=secure, path="/")
    response = Redirect(path="/jobs?f=html", status_code=303)
    response.cookies.append(cookie)
    response.headers["Cache-Control"] = "no-store"
    return response


@post("/signout", summary="Sign out", include_in_schema=False, opt=PUBLIC, status_code=303)
async def signout() -> Response[Any]:
    response = Redirect(path="/?f=html", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


ROUTES = [signin_page, signin, signout]
