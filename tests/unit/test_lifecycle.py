"""A clean stop on a cluster that ends with the service: no new jobs, the running ones failed
as stopped once the grace period is over, the waiting ones left to be queued again."""

from __future__ import annotations

import asyncio

import pytest

from dpr.domain.errors import Unavailable
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from dpr.services.lifecycle import STOPPED
from tests.builders import execute_body
from tests.unit.conftest import build_service
from tests.waiting import async_wait_for

pytestmark = pytest.mark.unit

ASYNC = Preference(respond_async=True)


@pytest.mark.virtual_time  # the 30 s grace period passes at once
async def test_a_stop_refuses_new_jobs_fails_the_running_one_after_the_grace_period_and_leaves_the_queued_one():
    service = build_service(workers=1)
    await service.start()
    try:
        lifecycle = service.container.lifecycle()
        assert lifecycle.grace == 30
        assert lifecycle.not_ready() == []
        running = (await service.submission.execute("mockup", execute_body({"inputs": {"duration": 30}}), ASYNC)).job
        queued = (await service.submission.execute("echo", execute_body({"inputs": {"echo": "x"}}), ASYNC)).job

        async def is_running() -> bool:
            return (await service.queries.status(running.job_id)).status is JobStatus.RUNNING

        await async_wait_for(is_running, 30, "the long job to run")

        loop = asyncio.get_running_loop()
        began = loop.time()
        stopped = await lifecycle.stop()

        assert loop.time() - began >= 30, "it waited the whole grace period for the running job"

        assert [j.job_id for j in stopped] == [running.job_id]
        assert (await service.queries.status(running.job_id)).error == STOPPED
        assert (await service.queries.status(queued.job_id)).status is JobStatus.ACCEPTED, "queued again later"
        assert lifecycle.not_ready() == ["this instance is stopping: it takes no new jobs"]
        with pytest.raises(Unavailable) as refused:
            await service.submission.execute("echo", execute_body({"inputs": {"echo": "late"}}), ASYNC)
        assert refused.value.retry_after == 5
    finally:
        await service.close()
