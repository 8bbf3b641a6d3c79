"""Following a job's log while it grows: every line once and in order, then the end.

A subscriber may come late: it first gets the lines it missed (from ``after``), then the new
ones as they are stored. Memory stays bounded (one page of lines at a time) and nothing blocks
the event loop: the follower reads the log store and the job's status, and sleeps in between.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import msgspec

from dpr.domain.errors import NoSuchJob, Unavailable
from dpr.domain.status import JobStatus
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore, LogRecord

log = logging.getLogger(__name__)


class KeepAlive(msgspec.Struct, frozen=True):
    """Nothing new for a while: tells the subscriber (and proxies) the stream is alive."""


class LogEnd(msgspec.Struct, frozen=True, kw_only=True):
    """The job ended and every line was delivered; ``status`` is None if the job was removed."""

    status: JobStatus | None


LogItem = LogRecord | KeepAlive | LogEnd


class FollowTiming(msgspec.Struct, frozen=True, kw_only=True):
    """How often a follower looks for news: ``poll`` seconds after news, doubling while quiet
    up to ``max_poll``; a ``KeepAlive`` after ``keep_alive`` quiet seconds; ``page`` lines a read."""

    poll: float = 0.1
    max_poll: float = 1.0
    keep_alive: float = 15.0
    page: int = 500


class LogFollower:
    """Streams one job's log lines to one subscriber."""

    def __init__(self, repository: JobRepository, logs: JobLogStore, timing: FollowTiming | None = None) -> None:
        self.repository, self.logs = repository, logs
        self.timing = timing or FollowTiming()

    async def open(self, job_id: str, after: int = -1) -> AsyncIterator[LogItem]:
        """The job's lines with ``seq > after`` as they come, ``KeepAlive`` while it is quiet,
        and a final ``LogEnd`` once it has ended and every line was given.

        Raises ``NoSuchJob`` here, before anything is streamed, when the job does not exist.
        """
        await self.repository.get(job_id)
        return self._follow(job_id, after)

    async def _follow(self, job_id: str, after: int) -> AsyncIterator[LogItem]:
        loop = asyncio.get_running_loop()
        pause, quiet_since = self.timing.poll, loop.time()
        while True:
            # The status is read before the lines: events are applied in order, so once a job
            # is seen ended, every line it wrote is already stored and the next reads get them.
            try:
                status = await self._status(job_id)
                records = await self.logs.read(job_id, after, self.timing.page)
            except Unavailable as e:  # a storage outage pauses the stream; it does not end it
                log.warning("following the log of job %s: %s; retrying", job_id, e)
                status, records = JobStatus.RUNNING, []
            for record in records:
                yield record
            if records:
                after, pause, quiet_since = records[-1].seq, self.timing.poll, loop.time()
            if len(records) == self.timing.page:
                continue  # more are waiting
            if status is None or status.is_terminal:
                yield LogEnd(status=status)
                return
            if loop.time() - quiet_since >= self.timing.keep_alive:
                yield KeepAlive()
                quiet_since = loop.time()
            await asyncio.sleep(pause)
            pause = min(pause * 2, self.timing.max_poll)

    async def _status(self, job_id: str) -> JobStatus | None:
        try:
            return (await self.repository.get(job_id)).status
        except NoSuchJob:
            return None
