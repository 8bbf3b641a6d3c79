"""Every JobRepository adapter agrees with a dict model under random operation sequences.

The state machine is synchronous: it drives the async adapter through a private event loop
(``loop.run_until_complete``). Loop and adapter live for the whole test; each Hypothesis
example starts from emptied tables.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import UTC, timedelta, timezone
from typing import Any

import pytest
from contract_support import BASE, empty_tables
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    multiple,
    precondition,
    rule,
    run_state_machine_as_test,
)
from msgspec.structs import replace

from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.domain.errors import DomainError, InvalidTransition
from dpr.domain.execute import ExecuteRequest
from dpr.domain.job import Job
from dpr.domain.query import Cursor, JobPage, JobQuery, order_key
from dpr.domain.status import ACTIVE, JobStatus
from dpr.ports.job_repository import JobRepository
from tests.sql_stores import open_sql_store

IDS = st.sampled_from(["a", "A", "b", "B", "job-1", "job-10", "ä", "_"])
PROCESSES = st.sampled_from(["echo", "mockup", "s1_l0"])
OWNERS = st.none() | st.sampled_from(["alice", "bob"])
ZONES = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
# Few distinct instants, so equal timestamps (ties in the order, bounds hit exactly) are common.
TIMES = st.builds(
    lambda seconds, micros, zone: (BASE + timedelta(seconds=seconds, microseconds=micros)).astimezone(zone),
    st.integers(0, 6),
    st.sampled_from([0, 0, 0, 1, 999_999]),
    ZONES,
)
DURATIONS = st.builds(
    lambda s, us: timedelta(seconds=s, microseconds=us), st.integers(0, 6), st.sampled_from([0, 0, 1])
)


def mostly(empty: Any, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``empty`` two times in three: with every filter set at once, nothing would ever match."""
    return st.one_of(st.just(empty), st.just(empty), strategy)


QUERIES = st.builds(
    JobQuery,
    now=TIMES,
    statuses=mostly(frozenset(), st.frozensets(st.sampled_from(JobStatus), min_size=1, max_size=3)),
    process_ids=mostly(frozenset(), st.frozensets(PROCESSES, min_size=1, max_size=2)),
    created_from=mostly(None, TIMES),
    created_to=mostly(None, TIMES),
    min_duration=mostly(None, DURATIONS),
    max_duration=mostly(None, DURATIONS),
    owner=mostly(None, OWNERS),
    limit=st.integers(1, 4),
    after=mostly(None, st.builds(Cursor, created=TIMES, job_id=IDS)),
    count=st.booleans(),
)
ACTIONS = st.sampled_from(["start", "start", "report", "succeed", "succeed", "fail", "dismiss", "overwrite"])

Outcome = tuple[str, Any]


@st.composite
def seeded_jobs(draw: st.DrawFn) -> Job:
    """A job in any status, its times a few (micro)seconds apart, as the lifecycle makes them."""
    created = draw(TIMES)
    job = Job.accept(
        job_id=draw(IDS), process_id=draw(PROCESSES), request=ExecuteRequest(), now=created, owner=draw(OWNERS)
    )
    status = draw(st.sampled_from(JobStatus))
    if status is JobStatus.ACCEPTED:
        return job
    if status is not JobStatus.DISMISSED or draw(st.booleans()):
        job = job.start(created + draw(DURATIONS))
    if status is JobStatus.RUNNING:
        return job
    action = {"successful": "succeed", "failed": "fail"}.get(status, "dismiss")
    return changed(job, action, job.updated + draw(DURATIONS), status)


def model_page(jobs: dict[str, Job], query: JobQuery) -> JobPage:
    """The reference: ``JobQuery.matches`` and ``order_key``, applied to plain Python lists."""
    matching = sorted((j for j in jobs.values() if query.matches(j)), key=order_key, reverse=True)
    after = [j for j in matching if query.is_after_cursor(j)]
    page = after[: query.limit]
    more = len(after) > query.limit
    count = len(matching) if query.count else None
    return JobPage(jobs=page, next=Cursor.after(page[-1]) if more else None, number_matched=count)


def changed(job: Job, action: str, now: Any, status: JobStatus) -> Job:
    """``job`` after ``action`` (raises InvalidTransition when the lifecycle forbids it)."""
    if action == "overwrite":  # a writer ignoring the lifecycle: only the repository's guard stops it
        return replace(job, status=status, message=f"forced {status}", version=job.version + 1)
    if action == "report":
        return job.report(now, progress=37, message="busy")
    if action == "succeed":
        return job.succeed(now, {"out": {"href": f"s3://out/{job.job_id}"}})
    if action == "fail":
        return job.fail(now, "boom")
    return job.dismiss(now) if action == "dismiss" else job.start(now)


class RepositoryAgreesWithModel(RuleBasedStateMachine):
    """Each rule calls the adapter and the dict model alike and compares what they return,
    errors included (class and arguments)."""

    # Ids that were added at least once: most operations target them, or nothing would change.
    added = Bundle("added")

    def __init__(self, loop: asyncio.AbstractEventLoop, repository: JobRepository) -> None:
        super().__init__()
        self.loop, self.repository = loop, repository
        self.model: dict[str, Job] = {}

    @initialize(target=added, jobs=st.lists(seeded_jobs(), max_size=6, unique_by=lambda job: job.job_id))
    def seed(self, jobs: list[Job]) -> Any:
        for job in jobs:
            self.loop.run_until_complete(self.repository.add(job))
            self.model[job.job_id] = job
        return multiple(*(job.job_id for job in jobs))

    def call(self, awaitable: Awaitable[Any]) -> Outcome:
        try:
            return ("ok", self.loop.run_until_complete(awaitable))
        except DomainError as error:
            return (type(error).__name__, error.args)

    @rule(target=added, job_id=IDS, created=TIMES, process_id=PROCESSES, owner=OWNERS)
    def add(self, job_id: str, created: Any, process_id: str, owner: str | None) -> str:
        job = Job.accept(job_id=job_id, process_id=process_id, request=ExecuteRequest(), now=created, owner=owner)
        if job_id in self.model:
            expected: Outcome = ("ConcurrentUpdate", (job_id, 0, self.model[job_id].version))
        else:
            expected, self.model[job_id] = ("ok", None), job
        assert self.call(self.repository.add(job)) == expected
        return job_id

    @rule(
        job_id=added | IDS,
        action=ACTIONS,
        now=TIMES,
        status=st.sampled_from(JobStatus),
        stale=st.sampled_from([0, 0, 0, -1, 1]),
    )
    def update(self, job_id: str, action: str, now: Any, status: JobStatus, stale: int) -> None:
        current = self.model.get(job_id)
        if current is None:
            outcome = self.call(
                self.repository.update(
                    Job.accept(job_id=job_id, process_id="echo", request=ExecuteRequest(), now=now), expected_version=1
                )
            )
            assert outcome == ("NoSuchJob", (job_id,))
            return
        try:
            new = changed(current, action, now, status)
        except InvalidTransition:
            return
        expected_version = current.version + stale
        if expected_version != current.version:
            expected: Outcome = ("ConcurrentUpdate", (job_id, expected_version, current.version))
        elif current.is_terminal and new.status != current.status:
            expected = ("InvalidTransition", (job_id, current.status, new.status))
        else:
            expected, self.model[job_id] = ("ok", None), new
        assert self.call(self.repository.update(new, expected_version=expected_version)) == expected

    @rule(job_id=added | IDS)
    def get(self, job_id: str) -> None:
        expected = ("ok", self.model[job_id]) if job_id in self.model else ("NoSuchJob", (job_id,))
        assert self.call(self.repository.get(job_id)) == expected

    @rule(job_id=added | IDS)
    def delete(self, job_id: str) -> None:
        expected = ("ok", None) if self.model.pop(job_id, None) else ("NoSuchJob", (job_id,))
        assert self.call(self.repository.delete(job_id)) == expected

    @rule(query=QUERIES)
    def list_one_page(self, query: JobQuery) -> None:
        assert self.call(self.repository.list_jobs(query)) == ("ok", model_page(self.model, query))

    @precondition(lambda self: bool(self.model))
    @rule(data=st.data(), query=QUERIES)
    def list_with_a_bound_on_a_job(self, data: st.DataObject, query: JobQuery) -> None:
        """Bounds equal to a stored job's created time or duration: where off-by-ones hide."""
        job = data.draw(st.sampled_from(sorted(self.model.values(), key=order_key)))
        edges: dict[str, Any] = {"created_from": job.created, "created_to": job.created}
        duration = job.duration(query.now)
        if duration is not None and duration >= timedelta(0):
            edges |= {"min_duration": duration, "max_duration": duration}
        chosen = data.draw(st.sets(st.sampled_from(sorted(edges)), min_size=1))
        query = replace(query, **{name: edges[name] for name in chosen})
        assert self.call(self.repository.list_jobs(query)) == ("ok", model_page(self.model, query))

    @precondition(lambda self: bool(self.model))
    @rule(query=QUERIES)
    def walk_every_page(self, query: JobQuery) -> None:
        query = replace(query, after=None)
        seen: list[Job] = []
        while True:
            page = self.loop.run_until_complete(self.repository.list_jobs(query))
            assert page == model_page(self.model, query)
            seen += page.jobs
            if page.next is None:
                break
            query = replace(query, after=page.next)
        assert seen == model_page(self.model, replace(query, after=None, limit=1000)).jobs

    @rule(process_id=st.none() | PROCESSES)
    def active(self, process_id: str | None) -> None:
        active = [j for j in self.model.values() if j.status in ACTIVE]
        listed = self.loop.run_until_complete(self.repository.list_active())
        assert sorted(listed, key=order_key) == sorted(active, key=order_key)
        expected = sum(1 for j in active if process_id in (None, j.process_id))
        assert self.loop.run_until_complete(self.repository.count_active(process_id)) == expected


@pytest.mark.slow
def test_every_adapter_agrees_with_the_model(database_url: str | None) -> None:
    loop = asyncio.new_event_loop()
    repository: JobRepository = InMemoryJobRepository()
    if database_url is not None:
        repository, _ = loop.run_until_complete(open_sql_store(database_url, migrate=False, pool_size=2))

    def fresh_machine() -> RepositoryAgreesWithModel:
        if database_url is None:
            return RepositoryAgreesWithModel(loop, InMemoryJobRepository())
        empty_tables(database_url)
        return RepositoryAgreesWithModel(loop, repository)

    try:
        run_state_machine_as_test(
            fresh_machine,
            settings=settings(
                max_examples=30,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                # "explain" traces every line SQLAlchemy runs: minutes per failure, no insight.
                phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
                report_multiple_bugs=False,
            ),
        )
    finally:
        loop.run_until_complete(repository.close())
        loop.close()
