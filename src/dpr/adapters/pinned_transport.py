"""The httpx transport of outbound requests: it connects only to addresses the URL guard checked.

In a module of its own so that importing the guard (and the server's start-up) does not import
httpx: the outbound clients import this when they first send something.
"""

from __future__ import annotations

import httpx

from dpr.adapters.url_guard import Resolver, resolve_checked, system_resolver


class PinnedTransport(httpx.AsyncBaseTransport):
    """An httpx transport that resolves each request's host once, checks the addresses and
    connects to the first checked one (the ``Host`` header and TLS name stay the host's).

    With ``allow_internal`` it checks nothing and lets httpx resolve as usual.
    """

    def __init__(self, *, allow_internal: bool, resolver: Resolver = system_resolver, what: str = "URL") -> None:
        self.allow_internal, self.resolver, self.what = allow_internal, resolver, what
        self._transport: httpx.AsyncHTTPTransport | None = None  # made when first used: its TLS set-up costs

    @property
    def _inner(self) -> httpx.AsyncHTTPTransport:
        if self._transport is None:
            self._transport = httpx.AsyncHTTPTransport()
        return self._transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.allow_internal:
            return await self._inner.handle_async_request(request)
        host = request.url.host
        addresses = await resolve_checked(str(request.url), what=self.what, resolver=self.resolver)
        request.url = request.url.copy_with(host=addresses[0].split("%", 1)[0])
        request.extensions = {**request.extensions, "sni_hostname": host}
        return await self._inner.handle_async_request(request)

    async def aclose(self) -> None:
        if self._transport is not None:
            await self._transport.aclose()
