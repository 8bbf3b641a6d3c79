"""An instance whose own lease was taken over: it leaves those jobs to their new owner and goes
on under a new id. Two ``Recovery`` services on one store (every adapter), on a manual clock."""

from __future__ import annotations

import pytest
from contract_support import BASE, make_job
from msgspec.structs import replace

from dpr.adapters.clock import ManualClock
from dpr.adapters.fake_executor import FakeExecutor
from dpr.domain.events import Progressed, Started
from dpr.domain.job import Job
from dpr.domain.process import ProcessCatalog
from dpr.domain.status import JobStatus
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore
from dpr.services.instance import InstanceIds
from dpr.services.records import JobRecords
from dpr.services.recovery import Recovery

LEASE = 30.0


class Instance:
    """One service instance's records and recovery on the shared store."""

    def __init__(self, name: str, repository: JobRepository, logs: JobLogStore, clock: ManualClock) -> None:
        self.ids = InstanceIds(name)
        self.records = JobRecords(repository, logs, ProcessCatalog([]), instance=self.ids)
        self.requeued: list[str] = []
        self.recovery = Recovery(
            repository=repository,
            executor=FakeExecutor(clock=clock),
            records=self.records,
            clock=clock,
            instance=self.ids,
            lease=LEASE,
            requeue=self._requeue,
        )

    async def _requeue(self, job: Job) -> bool:
        self.requeued.append(job.job_id)
        return True


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(BASE)


async def test_an_instance_whose_lease_was_taken_over_never_writes_over_the_new_owner_and_goes_on_under_a_new_id(
    stores: tuple[JobRepository, JobLogStore], clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    repository, logs = stores
    first, second = Instance("first", repository, logs, clock), Instance("second", repository, logs, clock)
    assert await first.recovery.recover() == []
    job = replace(make_job("queued"), owner_instance="first")
    await repository.add(job)
    first.records.track(job)

    clock.advance(LEASE + 1)  # the first instance stalled past its lease
    assert await second.recovery.recover() == []
    assert second.requeued == ["queued"], "the second instance took the job over"
    taken = await repository.get("queued")
    assert taken.owner_instance == "second" and taken.status is JobStatus.ACCEPTED

    # The stalled instance's executor still reports the job: those events are not its to record.
    await first.records.record(
        [Started(job_id="queued", at=clock.now()), Progressed(job_id="queued", at=clock.now(), progress=40)]
    )
    assert await repository.get("queued") == taken

    await first.recovery.recover()  # its next heartbeat finds the lease gone
    assert first.ids.current != "first" and first.recovery.instance == first.ids.current
    assert "instance first lost its lease" in caplog.text
    assert not first.ids.owns("second")
    await first.records.record([Started(job_id="queued", at=clock.now())])
    assert await repository.get("queued") == taken, "nor after it took a new id"

    # Under its new id it serves on: its lease holds and the jobs it accepts are its own.
    mine = replace(make_job("new"), owner_instance=first.ids.current)
    await repository.add(mine)
    await first.records.record([Started(job_id="new", at=clock.now())])
    assert (await repository.get("new")).status is JobStatus.RUNNING
    clock.advance(LEASE / 2)
    assert await first.recovery.recover() == [] and await second.recovery.recover() == []
    assert (await repository.get("new")).owner_instance == first.ids.current, "its new lease is live"
    clock.advance(LEASE + 1)
    await second.recovery.recover()
    assert (await repository.get("new")).owner_instance == "second", "and expires like any other"
