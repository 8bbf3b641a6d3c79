"""Refusing outbound URLs that point into the server's own network (SSRF guard)."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from dpr.domain.errors import InvalidInput


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


async def check_url(url: str, *, allow_internal: bool, what: str = "URL") -> None:
    """Raise ``InvalidInput`` unless ``url`` is http(s) and, when internal addresses are refused,
    every address its host resolves to is a public one."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidInput(f"{what} {url!r} must be an absolute http or https URL")
    if allow_internal:
        return
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(parts.hostname, parts.port or 443, type=socket.SOCK_STREAM)
    except OSError as e:
        raise InvalidInput(f"{what} {url!r}: cannot resolve {parts.hostname!r} ({e.strerror or e})") from None
    if any(_internal(str(info[4][0])) for info in infos):
        raise InvalidInput(
            f"{what} {url!r} points to an internal address; this server refuses those "
            "(set security.allow_internal_urls to allow them)"
        )
