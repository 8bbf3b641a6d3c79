"""Job and log retention (issue 14, section 3): the service purges ended jobs and their logs
``retention.days`` after they ended, by itself, measured on the clock port."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from dpr.adapters.clock import ManualClock
from dpr.adapters.settings import ProcessSettings, RetentionSettings, Settings, ephemeral
from dpr.domain.errors import NoSuchJob
from dpr.domain.execute import ExecuteBody
from dpr.domain.mode import Preference
from tests.services import wire
from tests.unit.conftest import DEFINITIONS

DAY = 86400.0


async def eventually(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        assert time.monotonic() < deadline, "the condition never held"
        await asyncio.sleep(0.02)


async def gone(services, job_id: str) -> bool:
    try:
        await services.repository.get(job_id)
    except NoSuchJob:
        return True
    return False


async def test_ended_jobs_and_their_logs_are_purged_once_the_retention_period_has_passed():
    clock = ManualClock(datetime.now(UTC))  # runs stamp their end on the real clock
    settings = ephemeral(
        Settings(processes=ProcessSettings(definitions=DEFINITIONS), retention=RetentionSettings(days=30, every=0.02))
    )
    services = wire(settings=settings, clock=clock)
    await services.start()
    try:
        sync = Preference(wait=10)
        old = (await services.submission.execute("mockup", ExecuteBody(inputs={"duration": 0}), sync)).job
        assert old.is_terminal and await services.log_store.read(old.job_id)
        clock.advance(20 * DAY)
        recent = (await services.submission.execute("mockup", ExecuteBody(inputs={"duration": 0}), sync)).job
        running = (
            await services.submission.execute(
                "mockup", ExecuteBody(inputs={"duration": 60}), Preference(respond_async=True)
            )
        ).job
        await asyncio.sleep(0.1)  # several purges pass: 20 days is within the period
        assert not await gone(services, old.job_id)

        clock.advance(11 * DAY)  # the first job ended 31 days ago, the second 11
        await eventually(lambda: gone(services, old.job_id))
        assert await services.log_store.read(old.job_id) == []
        for kept in (recent, running):
            assert (await services.repository.get(kept.job_id)).job_id == kept.job_id
        await services.dismissal.dismiss(running.job_id)
    finally:
        await services.close()


@pytest.mark.parametrize("days", [None])
async def test_a_null_retention_keeps_everything(days):
    clock = ManualClock(datetime.now(UTC))  # runs stamp their end on the real clock
    settings = ephemeral(
        Settings(processes=ProcessSettings(definitions=DEFINITIONS), retention=RetentionSettings(days=days, every=0.02))
    )
    services = wire(settings=settings, clock=clock)
    await services.start()
    try:
        job = (
            await services.submission.execute("mockup", ExecuteBody(inputs={"duration": 0}), Preference(wait=10))
        ).job
        clock.advance(1000 * DAY)
        await asyncio.sleep(0.1)
        assert not await gone(services, job.job_id)
    finally:
        await services.close()
