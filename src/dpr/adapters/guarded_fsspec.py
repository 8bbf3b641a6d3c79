"""fsspec's http(s) filesystem behind the SSRF guard, for locations a worker reads or writes.

A location is checked at submission, but fsspec resolves its host again when it connects: a
name that answers a public address for the check and an internal one later (DNS rebinding)
would reach inside. Here the aiohttp session fsspec uses resolves each host through a resolver
that refuses internal addresses and hands aiohttp only those it checked, so the connection goes
to a checked address; address literals (which aiohttp does not resolve) are checked before
each request, and redirects are not followed.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult

from dpr.adapters.url_guard import is_internal


class CheckedResolver(AbstractResolver):
    """The system's answers for a host, when every one is a public address; else ``OSError``."""

    def __init__(self) -> None:
        self._inner = aiohttp.ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        if not found or any(is_internal(r["host"]) for r in found):
            raise OSError(f"{host} resolves to an internal address; this server refuses those")
        return found

    async def close(self) -> None:
        await self._inner.close()


async def _refuse_internal_literal(_session: Any, _context: Any, params: aiohttp.TraceRequestStartParams) -> None:
    host = params.url.host or ""
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return  # a name: the resolver checks it
    if is_internal(str(address)):
        raise aiohttp.ClientOSError(f"{host} is an internal address; this server refuses those")


async def guarded_client(**kwargs: Any) -> aiohttp.ClientSession:
    """An aiohttp session (fsspec's ``get_client``) that connects only to checked addresses."""
    kwargs.pop("loop", None)  # the running loop: fsspec's own
    trace = aiohttp.TraceConfig()
    trace.on_request_start.append(_refuse_internal_literal)
    connector = aiohttp.TCPConnector(resolver=CheckedResolver(), use_dns_cache=False)
    return aiohttp.ClientSession(connector=connector, trace_configs=[trace], trust_env=False, **kwargs)


def http_options(*, allow_internal: bool) -> dict[str, Any]:
    """Storage options of fsspec's http(s) filesystem: guarded unless internal hosts are allowed."""
    if allow_internal:
        return {"skip_instance_cache": True}
    return {"get_client": guarded_client, "allow_redirects": False, "skip_instance_cache": True}
