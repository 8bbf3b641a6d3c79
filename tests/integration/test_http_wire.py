"""The HTTP protocol ``dpr serve`` hands uvicorn: one write per response, streams still stream.

The transport tests run on a real socket pair; the server tests run uvicorn with that protocol
on 127.0.0.1 and talk to it over TCP.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import uvicorn

from dpr.entrypoints.http.wire import JOIN_AT_MOST, CoalescingTransport, HttpProtocol
from tests.integration.server import free_port

Send = Callable[[dict[str, Any]], Awaitable[None]]


class CountingProtocol(asyncio.Protocol):
    """The far end of the socket pair: what arrived, and in how many reads."""

    def __init__(self) -> None:
        self.reads: list[bytes] = []
        self.closed = asyncio.Event()

    def data_received(self, data: bytes) -> None:
        self.reads.append(data)

    def connection_lost(self, exc: BaseException | None) -> None:
        self.closed.set()


class CountingWrites:
    """Counts the writes reaching a real transport (and passes them on)."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport, self.writes = transport, []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


@asynccontextmanager
async def socket_pair() -> AsyncIterator[tuple[CountingWrites, CountingProtocol]]:
    loop = asyncio.get_running_loop()
    near, far = socket.socketpair()
    transport, _ = await loop.create_connection(asyncio.Protocol, sock=near)
    _, receiver = await loop.create_connection(CountingProtocol, sock=far)
    try:
        yield CountingWrites(transport), receiver
    finally:
        transport.close()


async def received(receiver: CountingProtocol, size: int) -> bytes:
    async with asyncio.timeout(5):
        while sum(map(len, receiver.reads)) < size:
            await asyncio.sleep(0.005)
    return b"".join(receiver.reads)


async def test_writes_of_one_loop_turn_leave_together_in_order() -> None:
    async with socket_pair() as (real, receiver):
        wire = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        wire.write(b"HTTP/1.1 200 OK\r\n\r\n")
        wire.write(b"body")
        assert real.writes == []  # kept until the loop turns
        assert await received(receiver, 23) == b"HTTP/1.1 200 OK\r\n\r\nbody"
        assert real.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]


async def test_writes_of_later_turns_are_not_held_back() -> None:
    async with socket_pair() as (real, receiver):
        wire = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        wire.write(b"first")
        assert await received(receiver, 5) == b"first"  # before anything else is written
        wire.write(b"second")
        assert await received(receiver, 11) == b"firstsecond"
        assert real.writes == [b"first", b"second"]


async def test_close_sends_what_is_kept_first() -> None:
    async with socket_pair() as (real, receiver):
        wire = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        wire.write(b"last words")
        wire.close()
        async with asyncio.timeout(5):
            await receiver.closed.wait()
        assert b"".join(receiver.reads) == b"last words"
        assert wire.is_closing()  # the real transport's answer


async def test_what_is_kept_when_the_connection_closes_is_dropped_quietly() -> None:
    async with socket_pair() as (real, receiver):
        wire = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        wire.write(b"never sent")
        real.transport.close()  # the peer went away (uvicorn closes on connection_lost)
        await asyncio.sleep(0.05)  # the kept write's turn comes, on a closing transport
        assert real.writes == []
        assert receiver.reads == []


async def chunks_app(scope: dict[str, Any], receive: Any, send: Send) -> None:
    """``/stream``: three chunks 0.3 s apart; anything else: a plain answer."""
    assert scope["type"] == "http"
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/plain")]})
        for n in range(3):
            await send({"type": "http.response.body", "body": f"chunk {n}\n".encode(), "more_body": True})
            await asyncio.sleep(0.3)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return
    body = b"answer of " + scope["path"].encode()
    headers = [(b"content-type", b"text/plain"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving(app: Any) -> AsyncIterator[int]:
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=HttpProtocol, ws="none", lifespan="off")
    config.log_level = "warning"
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(30):
            while not server.started:
                await asyncio.sleep(0.01)
        yield port
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def connected(requests: bytes) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    """A TCP connection to a server of ``chunks_app`` that has sent ``requests``."""
    async with serving(chunks_app) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            writer.write(requests)
            await writer.drain()
            yield reader, writer
        finally:
            writer.close()


async def test_requests_on_a_kept_alive_connection_are_answered_in_turn() -> None:
    async with connected(b"GET /one HTTP/1.1\r\nhost: test\r\n\r\n") as (reader, writer):
        for path in (b"/one", b"/two"):
            if path == b"/two":  # the second request once the first was answered, on the same connection
                writer.write(b"GET /two HTTP/1.1\r\nhost: test\r\n\r\n")
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            assert head.startswith(b"HTTP/1.1 200 OK\r\n")
            length = int(next(x for x in head.split(b"\r\n") if x.lower().startswith(b"content-length")).split(b":")[1])
            assert await asyncio.wait_for(reader.readexactly(length), 5) == b"answer of " + path


async def test_pipelined_requests_are_answered_in_order() -> None:
    async with connected(b"GET /a HTTP/1.1\r\nhost: test\r\n\r\nGET /b HTTP/1.1\r\nhost: test\r\n\r\n") as (reader, _):
        data = b""
        async with asyncio.timeout(5):
            while data.count(b"answer of") < 2:
                data += await reader.read(65536)
        assert data.index(b"answer of /a") < data.index(b"answer of /b")


async def test_a_streamed_response_arrives_chunk_by_chunk() -> None:
    async with connected(b"GET /stream HTTP/1.1\r\nhost: test\r\n\r\n") as (reader, _):
        loop = asyncio.get_running_loop()
        await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
        arrivals = []
        for n in range(3):
            await asyncio.wait_for(reader.readuntil(f"chunk {n}\n".encode()), 5)
            arrivals.append(loop.time())
        # The first chunk came before the app slept and wrote the next: nothing waits for the end.
        assert arrivals[1] - arrivals[0] >= 0.2
        assert arrivals[2] - arrivals[1] >= 0.2


@pytest.mark.parametrize("path", ["/", "/stream"])
async def test_http_1_0_gets_its_answer_then_the_close(path: str) -> None:
    async with connected(f"GET {path} HTTP/1.0\r\n\r\n".encode()) as (reader, _):
        data = await asyncio.wait_for(reader.read(), 5)  # until the server closes
        assert data.startswith(b"HTTP/1.1 200 OK\r\n")
        assert (b"chunk 2" if path == "/stream" else b"answer of /") in data


async def test_a_large_body_is_not_copied_but_still_arrives_whole_and_in_order() -> None:
    async with socket_pair() as (real, receiver):
        wire = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        head, body = b"HTTP/1.1 200 OK\r\n\r\n", bytes(range(256)) * 4096  # 1 MiB
        wire.write(head)
        wire.write(body)
        assert await received(receiver, len(head) + len(body)) == head + body
        assert real.writes == [head, body]  # each as it was given: the MiB was not joined


async def test_what_is_kept_stays_bounded_when_an_app_writes_without_yielding() -> None:
    async with socket_pair() as (real, receiver):
        wire = CoalescingTransport(real, asyncio.get_running_loop())  # type: ignore[arg-type]
        chunk = b"x" * 65536
        for _ in range(64):  # 4 MiB in one turn of the loop
            wire.write(chunk)
            kept = sum(map(len, real.writes))
            assert 64 * 1024 * len(real.writes) == kept  # nothing lost or reordered
        # Sent on the way, not all at the end of the turn: the real transport's flow control saw it.
        assert sum(map(len, real.writes)) >= 64 * 65536 - JOIN_AT_MOST
        await received(receiver, 64 * 65536)
