"""uvicorn's HTTP/1.1 protocol (httptools), sending each response in one write.

uvicorn writes a response's status line and headers as soon as the app sends
``http.response.start``, and its body at ``http.response.body``: two ``send`` system calls,
two TCP segments and two wake-ups of the client for every answer. On a status read or the
process list one write instead of two saved 9 to 12 % of the server's CPU (docs/benchmarks.md).

``HttpProtocol`` hands uvicorn a transport that keeps what is written during one turn of the
event loop and sends it at the end of that turn: the head and body of a response leave
together, a streamed response (server-sent events, a log tail) still leaves chunk by chunk as
the app yields them, and closing the connection sends what is kept first. Flow control is the
real transport's: it pauses the protocol when the kernel's buffer fills, as before, and what is
kept never exceeds ``JOIN_AT_MOST`` (an app writing many chunks without yielding to the loop
meets that flow control as it did without this transport).

Imported only by ``dpr serve`` (uvicorn is a server dependency, not the library's).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

JOIN_AT_MOST = 256 * 1024
"""Writes of one turn joined into one up to this many bytes; beyond, copying costs more than a ``send``."""


class CoalescingTransport:
    """A transport whose writes in one event-loop turn leave as one ``write`` of the real one."""

    __slots__ = ("_kept", "_loop", "_pending", "transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self.transport = transport
        self._loop = loop
        self._pending: list[bytes] | None = None
        self._kept = 0  # bytes in _pending

    def write(self, data: bytes) -> None:
        if self._pending is None:
            self._pending, self._kept = [data], len(data)
            self._loop.call_soon(self.flush)
        else:
            self._pending.append(data)
            self._kept += len(data)
        if self._kept > JOIN_AT_MOST:  # large: sent now, where flow control sees it
            self.flush()

    def flush(self) -> None:
        """Send what is kept now (nothing once the connection is closing: it cannot leave)."""
        pending, kept, self._pending, self._kept = self._pending, self._kept, None, 0
        if not pending or self.transport.is_closing():
            return
        if len(pending) == 1:
            self.transport.write(pending[0])
        elif kept <= JOIN_AT_MOST:
            self.transport.write(b"".join(pending))
        else:  # a large body is not copied to save a system call
            for data in pending:
                self.transport.write(data)

    def close(self) -> None:
        self.flush()
        self.transport.close()

    def __getattr__(self, name: str) -> Any:
        # Everything else (is_closing, get_extra_info, pause_reading, abort...) is the real one's.
        return getattr(self.transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a ``CoalescingTransport``."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # The flow control made above keeps the real transport (pause and resume reading);
        # request cycles take self.transport, which from here on coalesces their writes.
        self.transport = CoalescingTransport(transport, self.loop)  # type: ignore[assignment]
