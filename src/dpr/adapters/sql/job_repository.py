"""Jobs in PostgreSQL or SQLite, through SQLAlchemy Core on an async engine."""

from __future__ import annotations

from collections.abc import Awaitable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select, delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from dpr.adapters.batching import BatchedReads, GroupCommit, SharedReads
from dpr.adapters.sql import leases
from dpr.adapters.sql import statements as sql
from dpr.adapters.sql.array_writes import INSERT_JOBS, JOB_NAMES, UPDATE_JOBS, UPDATE_NAMES, ArrayWrite
from dpr.adapters.sql.errors import Boundary
from dpr.adapters.sql.filters import NEWEST_FIRST, after_cursor, query_filters
from dpr.adapters.sql.lanes import Lane, close_lanes
from dpr.adapters.sql.mapping import job_to_row, row_to_job, storable_id, values_to_job
from dpr.adapters.sql.point_reads import PointRead
from dpr.adapters.sql.store import prepare
from dpr.adapters.sql.tables import job_logs, jobs
from dpr.domain.active import ActiveCounts
from dpr.domain.errors import ConcurrentUpdate, InvalidTransition, NoSuchJob
from dpr.domain.job import Job
from dpr.domain.query import Cursor, JobPage, JobQuery
from dpr.domain.status import JobStatus
from dpr.ports.job_repository import JobRepository


class SqlJobRepository(JobRepository):
    """A ``JobRepository`` on a SQL database (PostgreSQL with psycopg 3, or SQLite).

    Every update is one compare-and-set statement, so concurrent writers in several processes
    never lose a change. Build it through the container, which prepares the engine
    (idle-connection pings, JSON codec, SQLite pragmas) and the schema.

    Args:
        engine: the async engine; the repository owns it and ``close()`` disposes it.
        connect_timeout: how long ``open()`` waits for the database, in seconds.
        connect_pause: the pause between two connection attempts, in seconds.
        migrate: whether ``open()`` brings the schema to the newest revision.
    """

    def __init__(
        self, engine: AsyncEngine, *, connect_timeout: float = 30.0, connect_pause: float = 1.0, migrate: bool = True
    ) -> None:
        self._engine = engine
        # One statement is its own transaction: no BEGIN/COMMIT round trips around it.
        self._auto = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._connect = (connect_timeout, connect_pause, migrate)
        self._boundary = Boundary(engine.url)
        self._get_job = PointRead(engine, sql.GET_JOB)
        # Concurrent reads of jobs by id (every status poll, every compare-and-set) go as one
        # statement: under load one checkout and one round trip serve many requests.
        many = sql.GET_JOBS_ANY if engine.dialect.name == "postgresql" else sql.GET_JOBS_IN
        self._get_jobs = PointRead(engine, many)
        self._count_all = PointRead(engine, sql.ACTIVE_COUNTS)  # before every admission
        self._reads: BatchedReads[str, dict[str, Any]] = BatchedReads(self._read_jobs, name="sql-get-jobs")
        # On PostgreSQL with psycopg, a batch of inserts or updates is one statement of arrays.
        self._insert_jobs: ArrayWrite | None = None
        self._update_jobs: ArrayWrite | None = None
        if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
            self._insert_jobs = ArrayWrite(engine.dialect, INSERT_JOBS)
            self._update_jobs = ArrayWrite(engine.dialect, UPDATE_JOBS)
        # Jobs submitted at the same time are inserted together (group commit): one statement on
        # PostgreSQL; on SQLite one transaction.
        self._adds: GroupCommit[Job] = GroupCommit(self._insert, max_batch=200, name="sql-insert")
        # Every submission asks how many jobs are active: those asking at once share one count.
        self._counts: SharedReads[tuple[str | None, str | None], int] = SharedReads(
            self._count_active, name="sql-count-active"
        )
        self._active: SharedReads[None, ActiveCounts] = SharedReads(self._active_counts, name="sql-active-counts")
        # Each of these batchers runs one statement at a time, one after the other under load:
        # its connection is kept between them (lanes.py).
        self._lanes = {name: Lane(engine) for name in ("insert", "update", "read", "count")}

    async def add(self, job: Job) -> None:
        await self._adds.submit(job)

    async def _insert(self, batch: list[Job]) -> list[BaseException | None]:
        """Insert the batch in one statement (PostgreSQL) or transaction (SQLite): all rows or
        none, so the fallback never meets half a batch. If a row breaks a constraint (or has
        text the driver cannot encode, a lone surrogate), one by one: only that row fails."""
        if len(batch) > 1 or self._insert_jobs is not None:
            with self._boundary:
                try:
                    await self._insert_all(batch)
                    return [None] * len(batch)
                except (IntegrityError, UnicodeEncodeError):
                    pass  # no row went in: find the culprit
        return [await _outcome(self._insert_one(job)) for job in batch]

    async def _insert_all(self, batch: list[Job]) -> None:
        rows = [job_to_row(job) for job in batch]
        if self._insert_jobs is not None:
            lane = self._lanes["insert"]
            async with lane() as conn:
                await self._insert_jobs.run(conn, self._insert_jobs.parameters(rows, JOB_NAMES), lane)
            return
        async with self._engine.begin() as conn:
            await conn.execute(sql.INSERT_JOB, rows)

    async def _insert_one(self, job: Job) -> None:
        with self._boundary:
            try:
                async with self._auto.connect() as conn:
                    await conn.execute(sql.INSERT_JOB, job_to_row(job))
            except IntegrityError:
                found = await self._version(job.job_id)
                if found is None:
                    raise  # another constraint broke: a bug, not a duplicate
                raise ConcurrentUpdate(job.job_id, 0, found) from None

    async def get(self, job_id: str) -> Job:
        if not storable_id(job_id):  # no job has it; and it must not fail the others' batch
            raise NoSuchJob(job_id)
        values = await self._reads(job_id)
        if values is None:
            raise NoSuchJob(job_id)
        return values_to_job(values)

    async def _read_jobs(self, job_ids: list[str]) -> dict[str, dict[str, Any]]:
        lane = self._lanes["read"]
        with self._boundary:
            async with lane() as conn:
                if len(job_ids) == 1:
                    found = await self._get_job.one_or_none(conn, {"job_id": job_ids[0]}, lane)
                    return {} if found is None else {job_ids[0]: found}
                rows = await self._get_jobs.all(conn, {"ids": job_ids}, lane)
        return {row["job_id"]: row for row in rows}

    async def update(self, job: Job, *, expected_version: int) -> None:
        with self._boundary:
            async with self._auto.connect() as conn:
                if (await conn.execute(sql.UPDATE_JOB, sql.update_parameters(job, expected_version))).rowcount == 1:
                    return
                current = (await conn.execute(sql.GET_VERSION, {"job_id": job.job_id})).one_or_none()
        if current is None:
            raise NoSuchJob(job.job_id)
        if current.version != expected_version:
            raise ConcurrentUpdate(job.job_id, expected_version, current.version)
        raise InvalidTransition(job.job_id, JobStatus(current.status), job.status)

    async def update_many(self, changes: Sequence[tuple[Job, int]]) -> list[Exception | None]:
        """All changes in one statement. On SQLite, in one transaction when every
        compare-and-set holds; when one does not, the transaction is rolled back and each
        change is tried on its own, to tell which lost. On PostgreSQL see ``_update_arrays``."""
        if len(changes) > 1 and self._update_jobs is not None:
            return await self._update_arrays(self._update_jobs, changes)
        if len(changes) > 1:
            parameters = [sql.update_parameters(job, version) for job, version in changes]
            with self._boundary:
                async with self._engine.connect() as conn:
                    async with conn.begin() as transaction:
                        if (await conn.execute(sql.UPDATE_JOB, parameters)).rowcount == len(changes):
                            return [None] * len(changes)
                        await transaction.rollback()
        return await super().update_many(changes)

    async def _update_arrays(self, write: ArrayWrite, changes: Sequence[tuple[Job, int]]) -> list[Exception | None]:
        """Every compare-and-set in one statement, each holding or not on its own (as the port
        says): the statement returns which held, and only the others are tried again one by one,
        to tell why they lost. A batch changing a job twice goes one by one from the start. Text
        the driver cannot encode (a lone surrogate) raises before anything is sent, as
        ``executemany`` did: none is stored, and the service stores the changes one by one."""
        if len({job.job_id for job, _ in changes}) < len(changes):
            return await super().update_many(changes)
        parameters = write.parameters([sql.update_parameters(job, version) for job, version in changes], UPDATE_NAMES)
        lane = self._lanes["update"]
        with self._boundary:
            async with lane() as conn:
                count, stored = await write.run(conn, parameters, lane)
        outcomes: list[Exception | None] = [None] * len(changes)
        if count < len(changes):
            held = {n - 1 for (n,) in stored}
            lost = [i for i in range(len(changes)) if i not in held]
            for i, outcome in zip(lost, await super().update_many([changes[i] for i in lost]), strict=True):
                outcomes[i] = outcome
        return outcomes

    async def list_jobs(self, query: JobQuery) -> JobPage:
        filters = query_filters(query)
        page = select(jobs).where(*filters, *after_cursor(query.after)).order_by(*NEWEST_FIRST)
        with self._boundary:
            async with self._auto.connect() as conn:
                rows = (await conn.execute(page.limit(query.limit + 1))).all()
                matched = await _count(conn, select(func.count()).select_from(jobs).where(*filters), query)
        found = [row_to_job(row) for row in rows[: query.limit]]
        more = len(rows) > query.limit
        return JobPage(jobs=found, next=Cursor.after(found[-1]) if more else None, number_matched=matched)

    async def list_active(self) -> list[Job]:
        with self._boundary:
            async with self._auto.connect() as conn:
                rows = (await conn.execute(sql.LIST_ACTIVE)).all()
        return [row_to_job(row) for row in rows]

    async def count_active(self, process_id: str | None = None, *, owner: str | None = None) -> int:
        return await self._counts((process_id, owner))

    async def _count_active(self, key: tuple[str | None, str | None]) -> int:
        process_id, owner = key
        statement = sql.COUNT_ACTIVE_OF[process_id is not None, owner is not None]
        with self._boundary:
            async with self._auto.connect() as conn:
                return int((await conn.execute(statement, {"process_id": process_id, "owner": owner})).scalar_one())

    async def active_counts(self) -> ActiveCounts:
        return await self._active(None)

    async def _active_counts(self, _: None) -> ActiveCounts:
        lane = self._lanes["count"]
        with self._boundary:
            async with lane() as conn:
                rows = await self._count_all.all(conn, {}, lane)
        return ActiveCounts({(row["process_id"], row["owner"]): int(row["n"]) for row in rows})

    async def delete(self, job_id: str) -> None:
        """Remove the job and its log lines in one transaction. Raises ``NoSuchJob``."""
        with self._boundary:
            async with self._engine.begin() as conn:
                removed = (await conn.execute(delete(jobs).where(jobs.c.job_id == job_id))).rowcount
                if removed:
                    await conn.execute(delete(job_logs).where(job_logs.c.job_id == job_id))
        if not removed:
            raise NoSuchJob(job_id)

    async def renew_lease(self, instance: str, until: datetime) -> bool:
        with self._boundary:
            async with self._auto.connect() as conn:
                return await leases.renew(conn, instance, until)

    async def release_lease(self, instance: str) -> None:
        with self._boundary:
            async with self._auto.connect() as conn:
                await leases.release(conn, instance)

    async def take_over(self, instance: str, now: datetime) -> Sequence[Job]:
        with self._boundary:
            async with self._engine.begin() as conn:
                return await leases.take_over(conn, instance, now)

    async def open(self) -> None:
        timeout, pause, migrate = self._connect
        await prepare(self._engine, timeout=timeout, pause=pause, migrate=migrate)

    async def close(self) -> None:
        await self._adds.drained()
        await close_lanes(self._engine)  # the log store's too
        await self._engine.dispose()

    async def _version(self, job_id: str) -> int | None:
        async with self._auto.connect() as conn:
            return (await conn.execute(select(jobs.c.version).where(jobs.c.job_id == job_id))).scalar_one_or_none()


async def _outcome(call: Awaitable[None]) -> BaseException | None:
    try:
        await call
    except Exception as error:
        return error
    return None


async def _count(conn: AsyncConnection, statement: Select[int], query: JobQuery) -> int | None:
    if not query.count:
        return None
    return int((await conn.execute(statement)).scalar_one())
