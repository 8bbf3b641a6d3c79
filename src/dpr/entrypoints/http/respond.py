"""Content negotiation: a document goes out as JSON or as its HTML page, links in ``Link``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from litestar import Request, Response
from litestar.response import Template

from dpr.domain.documents import Link
from dpr.entrypoints.http.auth import signed_in
from dpr.entrypoints.http.common import base_url, first_header, json_response
from dpr.entrypoints.http.headers import page_nonce, page_policy
from dpr.entrypoints.http.links import for_html_page, link_header, with_alternates, with_html_alternates
from dpr.entrypoints.http.negotiation import Format, choose_format


def requested_format(request: Request) -> Format:
    """JSON or HTML for this request (raises ``InvalidParameter`` for an unknown ``f``)."""
    # Without a query string there is no ``f``: no query parameters are parsed for it. The first
    # ``Accept`` is read from the raw headers: building Litestar's header view costs more.
    f = request.query_params.getall("f", []) if request.scope["query_string"] else []
    return choose_format(f, first_header(request, b"accept"))


def respond(
    request: Request,
    document: Any,
    page: str,
    context: Mapping[str, Any] | None = None,
    *,
    fmt: Format | None = None,
    links: list[Link] | None = None,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Response[Any]:
    """``document`` as JSON (with HTML alternates) or rendered by the template ``page``.

    ``links`` stands in for the document's own links when it has none (``/conformance``).
    Either way the ``Link`` header repeats the links of the representation sent.
    """
    fmt = fmt or requested_format(request)
    headers = {**(headers or {}), "Vary": "Accept"}  # caches must not serve a browser's page to an API client
    own = links if links is not None else list(getattr(document, "links", []))
    if fmt is Format.HTML:
        page_links = for_html_page(own)
        return html_page(
            request,
            page,
            {"doc": document, "links": page_links, **(context or {})},
            status=status,
            headers={**headers, "Link": link_header(page_links)},
        )
    if links is None:
        document = with_alternates(document)
        own = list(getattr(document, "links", []))
    else:
        own = with_html_alternates(own)
    return json_response(document, status, {**headers, "Link": link_header(own)})


def html_page(
    request: Request,
    page: str,
    context: Mapping[str, Any],
    *,
    status: int = 200,
    headers: Mapping[str, str] | None = None,
) -> Template:
    """A rendered page; every page also gets the API root and the server's title."""
    settings, nonce = request.app.state.settings, page_nonce()
    who = signed_in(request)
    full = {
        "base": base_url(request, settings),
        "site": settings.server.title,
        "nonce": nonce,
        "auth": not settings.auth.anonymous,
        "who": who.display_name or who.subject if who else None,
        **context,
    }
    headers = {**(headers or {}), "Content-Security-Policy": page_policy(nonce)}
    return Template(template_name=page, context=full, status_code=status, headers=headers, media_type="text/html")
