"""Links between the representations of a resource, and the ``Link`` header that mirrors them.

A JSON document's ``self`` link gets an ``alternate`` twin pointing at its HTML page
(``?f=html``); the HTML page turns that around: ``self`` is the page, ``alternate`` the JSON
(``?f=json``), and paging links stay in HTML so a reader keeps browsing pages.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import TypeVar
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

from msgspec.structs import replace

from dpr.domain.documents import JobList, Link, ProcessList
from dpr.entrypoints.http.negotiation import HTML_TYPE, JSON_TYPE, Format

D = TypeVar("D")
PAGING = frozenset({"next", "prev", "first", "last"})
_URI_SAFE = ":/?#[]@!$&'()*+,;=%~"
# What ``quote(href, safe=_URI_SAFE)`` leaves as it is: an href made only of these (every link
# the server builds from an ASCII base URL and ids) skips quoting, which is slow Python.
_HREF_AS_IS_RE = re.compile("[" + re.escape(string.ascii_letters + string.digits + "-._~" + _URI_SAFE) + "]*")
# RFC 7230 tchar: a relation type made only of these goes out bare (``rel=monitor``), as the OGC
# test suite matches it; extension types (URIs) and anything else are quoted.
_TOKEN = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


def in_format(href: str, fmt: Format | None) -> str:
    """``href`` with its ``f`` query parameter set to ``fmt``, or removed when ``fmt`` is None."""
    if "?" not in href and "#" not in href:  # the common case, on every response: no parsing
        return href if fmt is None else f"{href}?f={fmt.value}"
    parts = urlsplit(href)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k != "f"]
    if fmt is not None:
        query.append(("f", fmt.value))
    return urlunsplit(parts._replace(query=urlencode(query)))


def with_html_alternates(links: Iterable[Link]) -> list[Link]:
    """The links of a JSON document: each JSON ``self`` link followed by its HTML ``alternate``.

    Idempotent: links that already carry an HTML alternate are returned unchanged.
    """
    links = list(links)
    if any(link.rel == "alternate" and link.type == HTML_TYPE for link in links):
        return links
    out: list[Link] = []
    for link in links:
        out.append(link)
        if link.rel == "self" and link.type == JSON_TYPE:
            out.append(
                Link(
                    href=in_format(link.href, Format.HTML),
                    rel="alternate",
                    type=HTML_TYPE,
                    title="this document as HTML",
                )
            )
    return out


def for_html_page(links: Iterable[Link]) -> list[Link]:
    """The links of the HTML page of a JSON document that has ``links``."""
    return list(_html_page_links(links))


def _html_page_links(links: Iterable[Link]) -> Iterator[Link]:
    for link in links:
        if link.rel == "alternate" and link.type == HTML_TYPE:
            continue
        if link.rel == "self" and link.type != HTML_TYPE:
            yield Link(href=in_format(link.href, Format.HTML), rel="self", type=HTML_TYPE, title="this page")
            title = "this document as JSON" if link.type == JSON_TYPE else "this resource without HTML"
            yield Link(href=in_format(link.href, Format.JSON), rel="alternate", type=link.type, title=title)
        elif link.rel in PAGING and link.type == JSON_TYPE:
            yield replace(link, href=in_format(link.href, Format.HTML), type=HTML_TYPE)
        else:
            yield link


def with_alternates(document: D) -> D:
    """``document`` with HTML alternates in its links and in the links of the items it lists."""
    if isinstance(document, JobList):
        return replace(
            document, jobs=[with_alternates(j) for j in document.jobs], links=with_html_alternates(document.links)
        )
    if isinstance(document, ProcessList):
        return replace(
            document,
            processes=[with_alternates(p) for p in document.processes],
            links=with_html_alternates(document.links),
        )
    links = getattr(document, "links", None)
    if isinstance(links, list):
        return replace(document, links=with_html_alternates(links))  # type: ignore[type-var]
    return document


def link_header(links: Iterable[Link]) -> str:
    """The links as one RFC 8288 ``Link`` header value (ASCII; non-ASCII titles use ``title*``)."""
    return ", ".join(_link_value(link) for link in links)


def _link_value(link: Link) -> str:
    href = link.href if _HREF_AS_IS_RE.fullmatch(link.href) else quote(link.href, safe=_URI_SAFE)
    return f"<{href}>{_link_params(link.rel, link.type, link.hreflang, link.title)}"


@lru_cache(maxsize=512)  # a few dozen distinct (rel, type, hreflang, title): every response has them
def _link_params(rel: str | None, type_: str | None, hreflang: str | None, title: str | None) -> str:
    """A link's parameters, each after ``"; "``: the same few on every response, worked out once."""
    parts = [""]
    if rel:
        parts.append(f"rel={relation_types(rel)}")
    for name, value in (("type", type_), ("hreflang", hreflang)):
        if value:
            parts.append(f'{name}="{_quoted(value)}"')
    if title:
        if title.isascii():
            parts.append(f'title="{_quoted(title)}"')
        else:
            parts.append(f"title*=UTF-8''{quote(title, safe='')}")
    return "; ".join(parts)


def relation_types(rel: str) -> str:
    """A ``rel`` parameter value: bare when it is a single token, else a quoted string."""
    return rel if rel and set(rel) <= _TOKEN else f'"{_quoted(rel)}"'


def _quoted(value: str) -> str:
    """A quoted-string body: printable ASCII only, backslash and double quote escaped."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    clean = "".join(c if c.isascii() and c.isprintable() else "?" for c in value)
    return clean.replace("\\", "\\\\").replace('"', '\\"')
