"""Outbound HTTP: fetching ``href`` inputs and delivering callbacks, both behind the URL guard."""

from __future__ import annotations

import asyncio
import logging
from urllib.parse import urljoin

import httpx

from dpr.adapters.url_guard import Resolver, check_url, parse_url, resolve_checked, system_resolver
from dpr.domain.errors import InvalidInput
from dpr.ports.notifier import Notifier
from dpr.ports.reference_fetcher import Fetched, ReferenceFetcher

log = logging.getLogger(__name__)
MAX_REDIRECTS = 5


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


class HttpReferenceFetcher(ReferenceFetcher):
    """GETs references with a size cap; every redirect hop is checked by the guard again, and
    connected to the address the guard checked."""

    def __init__(
        self,
        *,
        allow_internal: bool = False,
        max_bytes: int = 10 * 2**20,
        timeout: float = 30.0,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_internal, self.max_bytes = allow_internal, max_bytes
        transport = PinnedTransport(allow_internal=allow_internal, resolver=resolver, what="reference")
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport, trust_env=False)

    async def fetch(self, href: str) -> Fetched:
        url = href
        for _ in range(MAX_REDIRECTS + 1):
            parse_url(url, what="reference")  # the transport checks the addresses it connects to
            try:
                async with self._client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code >= 400:
                        raise InvalidInput(f"reference {href!r} answered HTTP {response.status_code}")
                    content = await self._read_capped(response, href)
                    media = response.headers.get("content-type", "application/octet-stream").split(";")[0].strip()
                    return Fetched(content=content, media_type=media)
            except (httpx.HTTPError, httpx.InvalidURL) as e:
                raise InvalidInput(f"reference {href!r} cannot be read: {type(e).__name__}") from None
        raise InvalidInput(f"reference {href!r} redirects more than {MAX_REDIRECTS} times")

    async def _read_capped(self, response: httpx.Response, href: str) -> bytes:
        chunks, size = [], 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self.max_bytes:
                raise InvalidInput(f"reference {href!r} is larger than {self.max_bytes} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    async def close(self) -> None:
        await self._client.aclose()


class HttpNotifier(Notifier):
    """POSTs callbacks from background tasks: ``attempts`` tries, back-off doubling from ``backoff``."""

    def __init__(
        self,
        *,
        allow_internal: bool = False,
        attempts: int = 5,
        backoff: float = 1.0,
        timeout: float = 10.0,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.allow_internal, self.attempts, self.backoff = allow_internal, attempts, backoff
        self.resolver = resolver
        transport = PinnedTransport(allow_internal=allow_internal, resolver=resolver, what="callback")
        self._client = httpx.AsyncClient(timeout=timeout, follow_redirects=False, transport=transport, trust_env=False)
        self._tasks: set[asyncio.Task[None]] = set()

    async def check(self, url: str) -> None:
        await check_url(url, allow_internal=self.allow_internal, what="callback", resolver=self.resolver)

    def notify(self, url: str, body: bytes) -> None:
        task = asyncio.get_running_loop().create_task(self._deliver(url, body))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _deliver(self, url: str, body: bytes) -> None:
        delay = self.backoff
        for attempt in range(1, self.attempts + 1):
            try:  # the transport checks the address it connects to, at every attempt
                response = await self._client.post(url, content=body, headers={"Content-Type": "application/json"})
                if response.status_code < 500 and response.status_code != 429:
                    return
                reason = f"HTTP {response.status_code}"
            except InvalidInput as e:
                reason = str(e)
            except Exception as e:
                reason = f"{type(e).__name__}: {e}" if str(e) else type(e).__name__
            log.info("callback to %s failed (%s), attempt %d of %d", url, reason, attempt, self.attempts)
            if attempt < self.attempts:
                await asyncio.sleep(delay)
                delay *= 2
        log.warning("callback to %s given up after %d attempts", url, self.attempts)

    async def drain(self) -> None:
        """Wait for pending deliveries (for tests and orderly shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*list(self._tasks), return_exceptions=True)
        await self._client.aclose()
