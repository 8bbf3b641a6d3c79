"""Retention: jobs that ended longer ago than the retention period are deleted with their logs,
so a long-running service does not keep every input, result and log line for ever."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

from dpr.domain.errors import DomainError, NoSuchJob
from dpr.domain.query import MAX_LIMIT, JobQuery
from dpr.domain.status import TERMINAL
from dpr.ports.clock import Clock
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore

log = logging.getLogger(__name__)


class Retention:
    """Deletes ended jobs (and their logs) that finished more than ``days`` ago."""

    def __init__(self, repository: JobRepository, logs: JobLogStore, clock: Clock, days: float) -> None:
        self.repository, self.logs, self.clock, self.days = repository, logs, clock, days

    async def purge(self) -> int:
        """Delete what the retention period has passed; how many jobs were deleted. A job is
        ended and old when it was created and finished before the cut-off; active jobs stay."""
        now = self.clock.now()
        cutoff = now - timedelta(days=self.days)
        query = JobQuery(now=now, statuses=TERMINAL, created_to=cutoff, limit=MAX_LIMIT)
        deleted = 0
        while True:
            page = await self.repository.list_jobs(query)
            for job in page.jobs:
                if job.finished is not None and job.finished < cutoff:
                    deleted += await self._delete(job.job_id)
            if page.next is None:
                return deleted
            query = JobQuery(now=now, statuses=TERMINAL, created_to=cutoff, limit=MAX_LIMIT, after=page.next)

    async def _delete(self, job_id: str) -> int:
        try:
            await self.repository.delete(job_id)
        except NoSuchJob:  # dismissed meanwhile
            return 0
        await self.logs.delete(job_id)
        return 1

    async def run_every(self, seconds: float) -> None:
        """Purge now and then every ``seconds``, until cancelled; a failed purge is logged and
        tried again next time."""
        while True:
            try:
                if deleted := await self.purge():
                    log.info("retention: deleted %d job(s) ended more than %g days ago", deleted, self.days)
            except DomainError as e:
                log.warning("retention: the purge failed (%s); trying again later", e.describe())
            await asyncio.sleep(seconds)
