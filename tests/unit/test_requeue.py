"""Re-queueing a job taken over from a stopped instance: only while it is still ``accepted``.

The instance taking jobs over reads them in one compare-and-set; a client may dismiss one of them
(through any instance) before it is re-queued, or while it is being submitted again. The job must
then not run: nothing is submitted, or what was submitted is cancelled.
"""

from __future__ import annotations

from collections.abc import Callable

from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.domain.job import Job
from dpr.domain.run import WorkOrder
from dpr.domain.status import JobStatus
from dpr.ports.executor import EventHandler, Executor
from tests.builders import T0, make_job
from tests.unit.conftest import build_service


class Recording(Executor):
    """Runs nothing; records what it was asked, and calls ``during_submit`` while submitting."""

    def __init__(self, during_submit: Callable[[], object] | None = None) -> None:
        self.submitted: list[str] = []
        self.cancelled: list[str] = []
        self.during_submit = during_submit

    async def start(self, handler: EventHandler) -> None:
        pass

    async def submit(self, order: WorkOrder) -> str:
        self.submitted.append(order.job_id)
        if self.during_submit is not None:
            await self.during_submit()  # type: ignore[misc]
        return f"held:{order.job_id}"

    async def cancel(self, job: Job) -> None:
        self.cancelled.append(job.job_id)

    async def adopt(self, job: Job) -> bool:
        return False

    async def close(self) -> None:
        pass


def accepted() -> Job:
    return make_job(job_id="taken", process_id="echo", inputs={"echo": "hi"}, status=JobStatus.ACCEPTED)


async def dismissed_in(repository: InMemoryJobRepository, job_id: str) -> None:
    job = await repository.get(job_id)
    await repository.update(job.dismiss(T0), expected_version=job.version)


async def test_a_job_dismissed_after_it_was_taken_over_is_not_queued_again() -> None:
    repository, executor = InMemoryJobRepository(), Recording()
    service = build_service(repository=repository, executor=executor)
    await service.start()
    try:
        snapshot = accepted()  # as the take-over read it
        await repository.add(snapshot)
        await dismissed_in(repository, snapshot.job_id)  # a client, through another instance
        assert await service.submission.requeue(snapshot), "handled: it must not be failed as lost"
        assert executor.submitted == []
        assert (await repository.get(snapshot.job_id)).status is JobStatus.DISMISSED
    finally:
        await service.close()


async def test_a_job_dismissed_while_it_is_queued_again_is_cancelled() -> None:
    repository = InMemoryJobRepository()
    executor = Recording(during_submit=lambda: dismissed_in(repository, "taken"))
    service = build_service(repository=repository, executor=executor)
    await service.start()
    try:
        snapshot = accepted()
        await repository.add(snapshot)
        assert await service.submission.requeue(snapshot)
        assert executor.submitted == ["taken"] and executor.cancelled == ["taken"]
        assert (await repository.get(snapshot.job_id)).status is JobStatus.DISMISSED
    finally:
        await service.close()
