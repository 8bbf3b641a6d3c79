"""Job logs as server-sent events: one event per log line, ``id:`` its seq, keep-alive comments.

Two flavours over the same follower: plain text lines (what rs-dpr-service's ``/dpr`` clients
read) and JSON lines with an ``end`` event (dpr's ``/jobs/{id}/logs``).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable

import msgspec
from litestar import Request
from litestar.response import ServerSentEvent
from litestar.response.sse import ServerSentEventMessage

from dpr.domain.documents import LogLine
from dpr.domain.errors import InvalidParameter
from dpr.domain.principal import Principal
from dpr.entrypoints.http.streams import StreamSlots
from dpr.ports.log_store import LogRecord
from dpr.services.logs import KeepAlive, LogEnd, LogItem
from dpr.services.queries import JobQueries

EVENT_STREAM = "text/event-stream"
KEEP_ALIVE = "keep-alive"

MAX_SEQ = 2**63 - 1  # log sequence numbers are 64-bit in the stores
Format = Callable[[LogItem], ServerSentEventMessage | None]


def wants_event_stream(request: Request) -> bool:
    return EVENT_STREAM in request.headers.get("accept", "")


def resume_after(request: Request, after: int = -1) -> int:
    """Where a reconnecting ``EventSource`` left off (``Last-Event-ID``), else ``after``."""
    last = request.headers.get("last-event-id", "").strip()
    if not last.isdigit():
        return after
    if int(last) > MAX_SEQ:
        raise InvalidParameter("Last-Event-ID", f"must be at most {MAX_SEQ}")
    return int(last)


def plain_text(item: LogItem) -> ServerSentEventMessage | None:
    """The original service's events: ``data:`` is the line itself; the end just closes."""
    if isinstance(item, LogRecord):
        return ServerSentEventMessage(data=item.line, id=item.seq)
    if isinstance(item, KeepAlive):
        return ServerSentEventMessage(data=None, comment=KEEP_ALIVE)
    return None


def json_lines(item: LogItem) -> ServerSentEventMessage | None:
    """``data:`` is the line as JSON (seq, at, level, line); an ``end`` event carries the status."""
    if isinstance(item, LogRecord):
        line = LogLine(seq=item.seq, at=item.at, level=item.level, line=item.line)
        return ServerSentEventMessage(data=msgspec.json.encode(line).decode(), id=item.seq)
    if isinstance(item, KeepAlive):
        return ServerSentEventMessage(data=None, comment=KEEP_ALIVE)
    assert isinstance(item, LogEnd)
    return ServerSentEventMessage(event="end", data=msgspec.json.encode({"status": item.status}).decode())


async def _events(
    items: AsyncIterator[LogItem], fmt: Format, slots: StreamSlots, client: str
) -> AsyncIterator[ServerSentEventMessage]:
    """The stream's messages; its slot is given back however it ends. A stream with no line
    for ``slots.idle_timeout`` seconds ends (an ``EventSource`` reconnects with its
    ``Last-Event-ID`` if it still cares)."""
    quiet_since = time.monotonic()
    try:
        async for item in items:
            if not isinstance(item, KeepAlive):
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= slots.idle_timeout:
                return
            message = fmt(item)
            if message is not None:
                yield message
    finally:
        slots.give_back(client)


async def log_events(
    request: Request, queries: JobQueries, job_id: str, after: int, fmt: Format, caller: Principal
) -> ServerSentEvent:
    """The job's log from ``seq > after`` as an event stream that closes when the job has ended.
    Raises ``NoSuchJob`` (also for a job ``caller`` may not see) before anything is sent,
    ``Overloaded`` when the server or this client already has as many streams open as allowed."""
    slots: StreamSlots = request.app.state.streams
    client = request.client.host if request.client else "?"
    slots.take(client)
    try:
        items = await queries.follow(job_id, after, caller)
    except BaseException:
        slots.give_back(client)
        raise
    return ServerSentEvent(_events(items, fmt, slots, client))
