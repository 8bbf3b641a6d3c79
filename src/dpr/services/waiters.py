"""Waiting for jobs to end without polling the store in a tight loop."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from dpr.domain.job import Job

POLL_SECONDS = 1.0  # another API instance may finish the job: re-read at least this often


def next_pause(job: Job, remaining: float) -> float | None:
    """How long to wait for a wake-up before reading the job again; ``None`` when the wait is
    over (the job ended, or ``remaining`` seconds of the timeout are none)."""
    if job.is_terminal or remaining <= 0:
        return None
    return min(remaining, POLL_SECONDS)


class Waiters:
    """Per-job events, set when this process records a terminal status for the job."""

    def __init__(self) -> None:
        self._events: dict[str, tuple[asyncio.Event, int]] = {}

    def release(self, job_id: str) -> None:
        """Wake those waiting for the job now (it ended or was removed)."""
        if job_id in self._events:
            self._events[job_id][0].set()

    async def wait(self, job_id: str, timeout: float, read: Callable[[str], Awaitable[Job]]) -> Job:
        """The job once terminal, or as it stands when ``timeout`` seconds have passed."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        event, count = self._events.get(job_id, (asyncio.Event(), 0))
        self._events[job_id] = (event, count + 1)
        try:
            while True:
                job = await read(job_id)
                pause = next_pause(job, deadline - loop.time())
                if pause is None:
                    return job
                try:
                    await asyncio.wait_for(event.wait(), pause)
                except TimeoutError:
                    pass
        finally:
            event, count = self._events[job_id]
            if count <= 1:
                del self._events[job_id]
            else:
                self._events[job_id] = (event, count - 1)
