"""Following a job's log: lines in, items out, on the in-memory adapters."""

from __future__ import annotations

import asyncio

import pytest

from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.domain.errors import NoSuchJob, Unavailable
from dpr.domain.status import JobStatus
from dpr.ports.log_store import LogRecord
from dpr.services.logs import FollowTiming, KeepAlive, LogEnd, LogFollower
from tests.builders import at, make_job

FAST = FollowTiming(poll=0.005, max_poll=0.01, keep_alive=0.05, page=3)


async def setup(
    status: JobStatus = JobStatus.RUNNING, lines: int = 0
) -> tuple[InMemoryJobRepository, InMemoryJobLogStore]:
    repository, logs = InMemoryJobRepository(), InMemoryJobLogStore()
    await repository.add(make_job(status=status))
    for i in range(lines):
        await logs.append("job-1", at(i), "INFO", f"line {i}")
    return repository, logs


async def finish(repository: InMemoryJobRepository) -> None:
    job = await repository.get("job-1")
    await repository.update(job.succeed(at(60), {"echo": "hi"}), expected_version=job.version)


def seqs(items) -> list[int]:
    return [i.seq for i in items if isinstance(i, LogRecord)]


async def test_a_finished_jobs_log_is_replayed_in_pages_then_ends():
    repository, logs = await setup(JobStatus.SUCCESSFUL, lines=7)
    items = [i async for i in await LogFollower(repository, logs, FAST).open("job-1")]
    assert seqs(items) == list(range(7)) and items[-1] == LogEnd(status=JobStatus.SUCCESSFUL)


async def test_a_late_subscriber_gets_the_missed_lines_then_the_new_ones_then_the_end():
    repository, logs = await setup(lines=2)
    stream = await LogFollower(repository, logs, FAST).open("job-1")
    first = [await anext(stream), await anext(stream)]
    await logs.append("job-1", at(10), "INFO", "line 2")
    third = await anext(stream)
    await logs.append("job-1", at(11), "INFO", "last line")
    await finish(repository)
    rest = [i async for i in stream]
    assert seqs([*first, third, *rest]) == [0, 1, 2, 3] and rest[-1] == LogEnd(status=JobStatus.SUCCESSFUL)


async def test_resuming_after_a_seq_skips_what_was_seen():
    repository, logs = await setup(JobStatus.FAILED, lines=5)
    items = [i async for i in await LogFollower(repository, logs, FAST).open("job-1", after=2)]
    assert seqs(items) == [3, 4]


@pytest.mark.virtual_time  # the service's own periods (a keep-alive every 15 quiet seconds), at once
async def test_a_quiet_job_gets_keep_alives_until_it_ends():
    repository, logs = await setup()
    timing = FollowTiming()
    stream = await LogFollower(repository, logs, timing).open("job-1")
    loop = asyncio.get_running_loop()
    began = loop.time()
    assert await asyncio.wait_for(anext(stream), 60) == KeepAlive()
    assert await asyncio.wait_for(anext(stream), 60) == KeepAlive()
    assert 2 * timing.keep_alive <= loop.time() - began < 3 * timing.keep_alive, "one per quiet period"
    await finish(repository)
    assert [i async for i in stream][-1] == LogEnd(status=JobStatus.SUCCESSFUL)


async def test_a_removed_job_ends_the_stream_and_an_unknown_one_never_starts():
    repository, logs = await setup()
    stream = await LogFollower(repository, logs, FAST).open("job-1")
    await repository.delete("job-1")
    assert [i async for i in stream] == [LogEnd(status=None)]
    with pytest.raises(NoSuchJob):
        await LogFollower(repository, logs, FAST).open("nope")


class OutageLogStore(InMemoryJobLogStore):
    """A log store whose backend is unreachable for its first ``failures`` reads."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def read(self, job_id: str, after: int = -1, limit: int = 1000) -> list[LogRecord]:
        if self.failures:
            self.failures -= 1
            raise Unavailable("database", "connection refused")
        return await super().read(job_id, after, limit)


async def test_a_storage_outage_pauses_the_stream_without_losing_a_line():
    repository, logs = InMemoryJobRepository(), OutageLogStore(failures=3)
    await repository.add(make_job(status=JobStatus.SUCCESSFUL))
    await logs.append("job-1", at(0), "INFO", "only line")
    items = [i async for i in await LogFollower(repository, logs, FAST).open("job-1")]
    assert seqs(items) == [0] and items[-1] == LogEnd(status=JobStatus.SUCCESSFUL) and logs.failures == 0
