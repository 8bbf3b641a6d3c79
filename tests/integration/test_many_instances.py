"""The proof of issue 15: several ``dpr serve`` instances on one store and one external Dask
cluster, one killed (SIGKILL) mid-run and another replaced (SIGTERM, then a new process), lose
nothing and corrupt nothing.

Jobs are submitted round-robin over the instances; some are dismissed from an instance that did
not accept them. Afterwards every job has ended as it should (dismissed or successful: none was
failed by an instance while another ran it), each mockup run kept its log lines once each (the
mockup writes a known number), and no DELETE was answered with anything but 200 or 404.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import Awaitable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from distributed import Client

from dpr.adapters.processors.mockup import STEPS
from tests.integration.dask_processes import Cluster
from tests.integration.instances import Instance
from tests.security.postgres import fresh_database
from tests.waiting import async_wait_for, scaled

pytestmark = [pytest.mark.integration, pytest.mark.slow]

MOCKUP_SECONDS = 3
MOCKUP_LINES = 1 + STEPS  # "processing ..." then one line per step
# Long enough never to end before it is dismissed (a dismissed run stops at once).
DISMISSED_SECONDS = 600
# The scheduler's event log is where an instance taking a job over finds the lines it missed;
# its default length (1000 batches of all jobs) is documented as too short for this many jobs.
SCHEDULER = {"DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH": "100000"}


@dataclass
class Submitted:
    job_id: str
    kind: str  # "echo", "mockup" or "dismissed"
    accepted_by: int  # the index of the instance that accepted it


@dataclass
class Run:
    """What a test run did and saw."""

    instances: list[Instance]
    jobs: list[Submitted] = field(default_factory=list)
    deletes: list[tuple[str, int]] = field(default_factory=list)  # (job id, status code)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(tmp_path, SCHEDULER)
    try:
        running.add_worker(threads=4)
        running.add_worker(threads=4)
        yield running
    finally:
        running.stop()


def config(folder: Path, storage: str, scheduler: str) -> Path:
    path = folder / "dpr.yaml"
    path.write_text(
        f"""
server: {{lease: 5}}
storage: {{url: "{storage}"}}
executor: {{kind: scheduler, address: "{scheduler}", cancel_grace: 2}}
limits: {{max_active: null, max_active_per_owner: null}}
processes: {{enabled: [echo, mockup]}}
"""
    )
    return path


def plan(count: int) -> list[str]:
    """The mix: of every 10 jobs, 7 echo, 2 mockups of a few seconds, 1 long mockup dismissed."""
    pattern = ["echo", "mockup", "echo", "echo", "dismissed", "echo", "mockup", "echo", "echo", "echo"]
    return [pattern[i % len(pattern)] for i in range(count)]


def body(kind: str, i: int) -> dict[str, object]:
    if kind == "echo":
        return {"inputs": {"echo": f"job {i}"}}
    return {"inputs": {"duration": MOCKUP_SECONDS if kind == "mockup" else DISMISSED_SECONDS}}


async def submit_all(client: httpx.AsyncClient, run: Run, count: int, parallel: int = 12) -> None:
    kinds, gate = plan(count), asyncio.Semaphore(parallel)

    async def one(i: int, kind: str) -> None:
        index = i % len(run.instances)
        process = "echo" if kind == "echo" else "mockup"
        async with gate:
            answer = await client.post(
                f"{run.instances[index].url}/processes/{process}/execution",
                json=body(kind, i),
                headers={"Prefer": "respond-async"},
            )
        assert answer.status_code == 201, answer.text
        run.jobs.append(Submitted(answer.json()["jobID"], kind, index))

    await asyncio.gather(*(one(i, kind) for i, kind in enumerate(kinds)))


async def dismiss(client: httpx.AsyncClient, run: Run, jobs: list[Submitted]) -> list[Submitted]:
    """DELETE each job at a live instance other than the one that accepted it, twice (a client
    retrying): both answers must say dismissed, and the record stays. Returns the jobs no such
    instance was up for."""
    later = []
    for job in jobs:
        others = [i for i in run.instances if i.up and i is not run.instances[job.accepted_by]]
        if not others:
            later.append(job)
            continue
        for at in (others[0], others[-1]):
            answer = await client.delete(f"{at.url}/jobs/{job.job_id}")
            run.deletes.append((job.job_id, answer.status_code))
            assert answer.status_code < 500, answer.text
            if answer.status_code == 200:
                assert answer.json()["status"] == "dismissed", answer.text
    return later


def statuses(db: sa.Engine, ids: list[str]) -> dict[str, tuple[str, str | None]]:
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT job_id, status, error FROM jobs")).all()
    wanted = set(ids)
    return {r.job_id: (r.status, r.error) for r in rows if r.job_id in wanted}


async def until_running(db: sa.Engine, jobs: list[Submitted], count: int) -> None:
    def enough() -> bool:
        found = statuses(db, [j.job_id for j in jobs])
        return sum(status == "running" for status, _ in found.values()) >= count

    await async_wait_for(enough, 60, f"{count} of the victim's mockups to run")


async def until_all_ended(db: sa.Engine, run: Run, timeout: float) -> None:
    ids = [j.job_id for j in run.jobs]

    def ended() -> bool:
        found = statuses(db, ids)
        return len(found) == len(ids) and all(s not in ("accepted", "running") for s, _ in found.values())

    await async_wait_for(ended, timeout, "every job to end", interval=1.0)


def check(db: sa.Engine, run: Run) -> None:
    found = statuses(db, [j.job_id for j in run.jobs])
    wrong = {
        j.job_id: (j.kind, j.accepted_by, *found.get(j.job_id, ("missing", None)))
        for j in run.jobs
        if found.get(j.job_id, ("missing",))[0] != ("dismissed" if j.kind == "dismissed" else "successful")
    }
    assert not wrong, f"{len(wrong)} job(s) ended wrongly: {dict(itertools.islice(wrong.items(), 10))}"
    assert all(code in (200, 404) for _, code in run.deletes), Counter(code for _, code in run.deletes)
    mockups = {j.job_id for j in run.jobs if j.kind == "mockup"}
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT job_id, line FROM job_logs")).all()
    lines: dict[str, Counter[str]] = {job_id: Counter() for job_id in mockups}
    for row in rows:
        if row.job_id in mockups:
            lines[row.job_id][row.line] += 1
    duplicated = {job_id: [line for line, n in c.items() if n > 1] for job_id, c in lines.items()}
    duplicated = {job_id: dup for job_id, dup in duplicated.items() if dup}
    assert not duplicated, f"{len(duplicated)} mockup run(s) recorded lines twice: {list(duplicated.items())[:3]}"
    short = {
        job_id: sorted(c)
        for job_id, c in lines.items()
        if sum(n for line, n in c.items() if "mockup:" in line) != MOCKUP_LINES
    }
    assert not short, f"{len(short)} mockup run(s) miss lines: {list(short.items())[:3]}"


async def prove(instances: list[Instance], db: sa.Engine, count: int, cluster: str) -> None:
    """Submit ``count`` jobs round-robin, dismiss the long ones from another instance, kill the
    last instance mid-run, replace the first one, and check the outcome."""
    run = Run(instances)
    for instance in instances:
        instance.start()
    victim, replaced = instances[-1], instances[0]
    async with httpx.AsyncClient(timeout=scaled(60)) as client:
        await submit_all(client, run, count)
        to_dismiss = [j for j in run.jobs if j.kind == "dismissed"]
        half = len(to_dismiss) // 2
        await dismiss(client, run, to_dismiss[:half])
        victims = [j for j in run.jobs if j.kind == "mockup" and run.instances[j.accepted_by] is victim]
        await until_running(db, victims, 2)
        killed = owners(db, victims)
        victim.kill()
        later = await dismiss(client, run, to_dismiss[half:])  # some the dead instance accepted and owns
        victim.start()  # as an orchestrator restarts a crashed instance: a new one, with a new id
        assert await dismiss(client, run, later) == []
        replaced.terminate()
        replaced.start()
        await until_all_ended(db, run, 300)
    check(db, run)
    taken_over = [j for j in victims if owners(db, [j]) - killed]
    assert taken_over, "the killed instance's jobs were finished by another one"
    await until_cluster_idle(cluster, db)


def owners(db: sa.Engine, jobs: list[Submitted]) -> set[str]:
    """The instances that own ``jobs`` (or owned them last)."""
    wanted = {j.job_id for j in jobs}
    with db.connect() as conn:
        rows = conn.execute(sa.text("SELECT job_id, owner_instance FROM jobs")).all()
    return {r.owner_instance for r in rows if r.job_id in wanted and r.owner_instance}


async def until_cluster_idle(cluster: str, db: sa.Engine) -> None:
    """Every dismissed run was stopped and its task released: nothing of dpr's runs on the
    cluster, and no dismissed job's task stays there.

    Known and documented: a successful job's task (its result) stays published when the instance
    that recorded the outcome was killed before it unpublished the task; nothing sweeps those
    yet, so they are not counted here."""
    async with Client(cluster, asynchronous=True, set_as_default=False) as client:

        async def leftovers() -> list[str]:
            processing = [str(key) for keys in (await client.processing()).values() for key in keys]
            datasets = [str(name) for name in await client.list_datasets() if str(name).startswith("dpr-")]
            ended = statuses(db, [name.removeprefix("dpr-job-") for name in datasets])
            kept = [name for name in datasets if ended.get(name.removeprefix("dpr-job-"), ("",))[0] != "successful"]
            return processing + kept

        try:
            await async_wait_for(lambda: _none(leftovers()), 60, "the cluster to run and keep nothing of dpr's")
        except TimeoutError:
            left = await leftovers()
            ids = sorted({key.removeprefix("dpr-job-") for key in left})
            found = statuses(db, ids)
            with db.connect() as conn:
                rows = conn.execute(sa.text("SELECT job_id, line FROM job_logs ORDER BY job_id, seq")).all()
            logs = [(r.job_id[:8], r.line) for r in rows if r.job_id in set(ids)]
            raise AssertionError(f"left on the cluster: {left[:10]}; their jobs: {found}; their logs: {logs}") from None


async def _none(items: Awaitable[list[str]]) -> bool:
    return not await items


def stop_all(instances: list[Instance]) -> None:
    for instance in instances:
        instance.terminate()


async def test_three_instances_on_postgresql_lose_nothing_when_one_is_killed_and_one_replaced(tmp_path, cluster):
    with fresh_database() as url:
        instances = [Instance(name, config(tmp_path, url, cluster.address), tmp_path) for name in "abc"]
        db = sa.create_engine(url, poolclass=sa.NullPool)
        try:
            await prove(instances, db, 500, cluster.address)
        finally:
            stop_all(instances)
            db.dispose()


async def test_two_instances_on_one_sqlite_file_lose_nothing_when_one_is_killed_and_one_replaced(tmp_path, cluster):
    path = tmp_path / "dpr.sqlite"
    instances = [
        Instance(name, config(tmp_path, f"sqlite+aiosqlite:///{path}", cluster.address), tmp_path) for name in "ab"
    ]
    db = sa.create_engine(f"sqlite:///{path}", poolclass=sa.NullPool)
    try:
        await prove(instances, db, 500, cluster.address)
    finally:
        stop_all(instances)
        db.dispose()
