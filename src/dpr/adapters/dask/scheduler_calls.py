"""What the executor asks of the scheduler besides running tasks, each translated to port errors.

Published datasets keep tasks alive when no client holds them (a durable cluster outlives the
service); ``distributed.Event`` flags ask running jobs to stop. Publishing and unpublishing are
batched: one round trip serves every job submitted or ended meanwhile.
"""

from __future__ import annotations

import asyncio
import inspect
from typing import Any

from dask.typing import Key
from distributed import Client, Event, Future

from dpr.adapters.batching import GroupCommit
from dpr.adapters.dask.wire import cancel_flag, task_key
from dpr.domain.errors import Unavailable


class SchedulerCalls:
    """Scheduler requests of one connected client."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self._publish: GroupCommit[tuple[str, Any]] = GroupCommit(self._publish_now, name="dask-publish")
        self._unpublish: GroupCommit[str] = GroupCommit(self._unpublish_now, name="dask-unpublish")

    @property
    def running(self) -> bool:
        return self.client.status == "running"

    async def publish(self, job_id: str, future: Future, retries: int) -> None:
        """Keep the job's task on the cluster until ``unpublish``, with its retry budget."""
        try:
            await self._publish.submit((task_key(job_id), [future, retries]))
        except OSError as e:
            raise Unavailable("dask scheduler", f"cannot record job {job_id}: {e}") from e

    async def published(self, job_id: str) -> tuple[Future, int] | None:
        """The task published for the job and its retry budget, if the scheduler has it."""
        value = await self.client.get_dataset(task_key(job_id), default=None)
        if not isinstance(value, list | tuple) or len(value) != 2 or not isinstance(value[0], Future):
            return None
        return value[0], int(value[1])

    def unpublish(self, job_id: str) -> None:
        if self.running:
            self._unpublish.put(task_key(job_id))

    async def state(self, job_id: str) -> str | None:
        """The scheduler's state of the job's task (``queued``, ``processing``, ``memory``...),
        ``None`` when it does not know the task."""
        key = task_key(job_id)
        scheduler = self.client.scheduler
        if scheduler is None:
            raise Unavailable("dask scheduler", "the client is not connected")
        try:
            states = await scheduler.get_task_status(keys=[key])
        except OSError as e:
            raise Unavailable("dask scheduler", str(e)) from e
        return states.get(key)

    async def states(self, job_ids: list[str]) -> dict[str, str | None]:
        """``state`` of several jobs' tasks in one request."""
        scheduler = self.client.scheduler
        if scheduler is None:
            raise Unavailable("dask scheduler", "the client is not connected")
        try:
            found = await scheduler.get_task_status(keys=[task_key(j) for j in job_ids])
        except OSError as e:
            raise Unavailable("dask scheduler", str(e)) from e
        return {j: found.get(task_key(j)) for j in job_ids}

    async def stop(self, job_id: str, future: Future | None) -> None:
        """Raise the job's cancellation flag and drop its task, whoever submitted it."""
        await Event(cancel_flag(job_id), client=self.client).set()
        future = future if future is not None else foreign_future(task_key(job_id), self.client)
        await self.client.cancel([future], force=True, reason="dismissed", msg="the job was dismissed")

    async def lower_flag(self, job_id: str) -> None:
        if self.running:
            await Event(cancel_flag(job_id), client=self.client).clear()

    async def idle(self) -> None:
        """Wait until every queued publish and unpublish went out."""
        await self._publish.drained()
        await self._unpublish.drained()

    async def _publish_now(self, items: list[tuple[str, Any]]) -> None:
        # As keyword arguments: one request on newer distributed, one per dataset on older
        # ones (which ignore a positional mapping of names).
        await self.client.publish_dataset(override=True, **dict(items))

    async def _unpublish_now(self, keys: list[str]) -> None:
        if not self.running:
            return
        if _UNPUBLISHES_MANY:
            names: list[Key] = list(keys)
            await self.client.unpublish_dataset(names)
        else:
            await asyncio.gather(*(self.client.unpublish_dataset(key) for key in keys))


# Newer distributed (since its publish_dataset overhaul of 2026) unpublishes a list of names in
# one request; older versions take one name, and read a list as a name of its own (nothing is
# unpublished).
_UNPUBLISHES_MANY = "list" in str(inspect.signature(Client.unpublish_dataset).parameters["name"].annotation)

# Older distributed (2024.8 among them) lets a hand-built Future tell the scheduler this client
# wants the key unless given ``inform=False``; newer versions never tell it and refuse the argument.
_TELLS_SCHEDULER = "inform" in inspect.signature(Future.__init__).parameters


def foreign_future(key: str, client: Client) -> Future:
    """A handle on a task another client submitted, without claiming its result."""
    options: dict[str, Any] = {"inform": False} if _TELLS_SCHEDULER else {}
    return Future(key, client, **options)
