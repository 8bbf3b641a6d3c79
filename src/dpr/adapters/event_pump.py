"""Delivering executor events to the service in order, in batches a chatty processor cannot
turn into a write storm."""

from __future__ import annotations

import asyncio
import logging

from dpr.adapters.batching import GroupCommit, coalesce
from dpr.domain.events import AnyEvent
from dpr.ports.executor import EventHandler

log = logging.getLogger(__name__)

MAX_BATCH = 1000  # events per handler call: a backlog is recorded in bounded transactions


class EventPump:
    """Events fed from any thread (``put_threadsafe``) or the loop (``put``), handed to the
    handler together with everything that arrived while it recorded the previous batch,
    coalesced, in one call.

    At rest each event is handed over alone and at once; under load one write serves many
    events (group commit), so recording keeps up with many short jobs. Built on the loop that
    runs when it is created.
    """

    def __init__(self, handler: EventHandler, max_batch: int = MAX_BATCH) -> None:
        self._handler = handler
        self._events: GroupCommit[AnyEvent] = GroupCommit(
            self._deliver, max_batch=max_batch, name="event-pump", loop=asyncio.get_running_loop()
        )

    def put(self, event: AnyEvent) -> None:
        self._events.put(event)

    def put_threadsafe(self, event: AnyEvent) -> None:
        self._events.put_threadsafe(event)

    async def drained(self) -> None:
        """Wait until every event put so far has been handled."""
        await self._events.drained()

    async def close(self) -> None:
        await self._events.close()

    async def _deliver(self, batch: list[AnyEvent]) -> None:
        try:
            await self._handler(coalesce(batch))
        except Exception:  # a bad batch must not stop the pump
            log.exception("could not record %d executor events", len(batch))
