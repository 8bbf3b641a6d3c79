"""Refusing outbound URLs that point into the server's own network (SSRF guard).

A URL is checked once, when it is parsed (scheme, host, port, no control characters), and its
host's addresses each time it is called: ``resolve_checked`` answers the addresses that passed,
and ``http_outbound.PinnedTransport`` connects to one of those, so a name that resolves to a
public address for the check and to an internal one for the connection (DNS rebinding) never
reaches inside.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable
from urllib.parse import SplitResult, urlsplit

from dpr.domain.errors import InvalidInput

Resolver = Callable[[str, int], Awaitable[list[str]]]
"""Answers the addresses a host name resolves to (``OSError`` when it cannot)."""

# IPv6 ranges that carry an IPv4 address in their last 32 bits: IPv4-compatible (::a.b.c.d),
# IPv4-translated (::ffff:0:a.b.c.d, RFC 2765) and the well-known NAT64 prefix (RFC 6052).
_EMBEDDING_V4 = [ipaddress.ip_network(n) for n in ("::/96", "::ffff:0:0:0/96", "64:ff9b::/96")]
# IPv6 ranges refused whatever they carry: local-use NAT64 (RFC 8215), deprecated site-local,
# Teredo (its client address is obfuscated).
_REFUSED_V6 = [ipaddress.ip_network(n) for n in ("64:ff9b:1::/48", "fec0::/10", "2001::/32")]


def is_internal(address: str) -> bool:
    """Whether ``address`` is, or embeds, an address that is not a public unicast one."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _REFUSED_V6):
            return True
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and any(ip in net for net in _EMBEDDING_V4):
            embedded = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        if embedded is not None and is_internal(str(embedded)):
            return True
    return not ip.is_global or ip.is_multicast


def parse_url(url: str, *, what: str = "URL") -> SplitResult:
    """The parts of an absolute http(s) URL; ``InvalidInput`` for anything else (another
    scheme, no host, a port outside 1..65535, a broken IPv6 literal, control characters)."""
    if any(ord(c) < 0x21 or ord(c) == 0x7F for c in url):
        raise InvalidInput(f"{what} {url!r} contains spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:
        raise InvalidInput(f"{what} {url!r} is not a valid URL ({e})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} {url!r} must be an absolute http or https URL")
    if port == 0:
        raise InvalidInput(f"{what} {url!r} is not a valid URL (port 0)")
    return parts


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def resolve_checked(url: str, *, what: str = "URL", resolver: Resolver = system_resolver) -> list[str]:
    """The addresses ``url``'s host resolves to, all public; raises ``InvalidInput`` when the
    URL is malformed, its host cannot be resolved or any address is internal."""
    parts = parse_url(url, what=what)
    host = str(parts.hostname)
    try:
        addresses = await resolver(host, parts.port or (443 if parts.scheme == "https" else 80))
    except OSError as e:
        raise InvalidInput(f"{what} {url!r}: cannot resolve {host!r} ({e.strerror or e})") from None
    if not addresses or any(is_internal(a) for a in addresses):
        raise InvalidInput(
            f"{what} {url!r} points to an internal address; this server refuses those "
            "(set security.allow_internal_urls to allow them)"
        )
    return addresses


async def check_url(url: str, *, allow_internal: bool, what: str = "URL", resolver: Resolver = system_resolver) -> None:
    """Raise ``InvalidInput`` unless ``url`` is a well-formed http(s) URL and, when internal
    addresses are refused, every address its host resolves to is a public one."""
    parse_url(url, what=what)
    if not allow_internal:
        await resolve_checked(url, what=what, resolver=resolver)
