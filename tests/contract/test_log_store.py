"""The JobLogStore contract, run against every adapter (memory, SQLite, PostgreSQL)."""

from __future__ import annotations

import asyncio
from datetime import timedelta, timezone

import pytest
from contract_support import at

from dpr.ports.log_store import JobLogStore, LogLine, LogRecord


async def write(log_store: JobLogStore, job_id: str, *lines: str) -> list[LogRecord]:
    return [await log_store.append(job_id, at(i), "INFO", line) for i, line in enumerate(lines)]


async def test_appended_lines_are_numbered_from_zero_and_read_back_equal(log_store: JobLogStore) -> None:
    records = await write(log_store, "job", "first", "second", "third")
    assert [r.seq for r in records] == [0, 1, 2]
    assert records[1] == LogRecord(job_id="job", seq=1, at=at(1), level="INFO", line="second")
    assert await log_store.read("job") == records


async def test_a_line_keeps_its_level_text_and_zoned_time(log_store: JobLogStore) -> None:
    when = at(3).astimezone(timezone(timedelta(hours=-5))) + timedelta(microseconds=7)
    text = 'unicode ✓ été, "quotes", tab\\t and\nnewline'
    record = await log_store.append("job", when, "WARNING", text)
    assert await log_store.read("job") == [record]


@pytest.mark.parametrize(
    ("after", "limit", "expected"),
    [(-1, 1000, [0, 1, 2, 3]), (0, 1000, [1, 2, 3]), (-1, 2, [0, 1]), (1, 1, [2]), (3, 10, []), (-1, 0, [])],
)
async def test_read_returns_lines_after_a_seq_up_to_a_limit(
    log_store: JobLogStore, after: int, limit: int, expected: list[int]
) -> None:
    await write(log_store, "job", "a", "b", "c", "d")
    assert [r.seq for r in await log_store.read("job", after=after, limit=limit)] == expected


async def test_each_job_has_its_own_numbering(log_store: JobLogStore) -> None:
    await write(log_store, "one", "a", "b")
    (other,) = await write(log_store, "two", "c")
    assert other.seq == 0
    assert [r.line for r in await log_store.read("one")] == ["a", "b"]


async def test_an_unknown_job_has_an_empty_log(log_store: JobLogStore) -> None:
    assert await log_store.read("nobody") == []


async def test_delete_forgets_a_log_and_is_idempotent(log_store: JobLogStore) -> None:
    await write(log_store, "job", "a", "b")
    await write(log_store, "kept", "c")
    await log_store.delete("job")
    await log_store.delete("job")
    await log_store.delete("never-logged")
    assert await log_store.read("job") == []
    assert len(await log_store.read("kept")) == 1
    assert (await log_store.append("job", at(9), "INFO", "again")).seq == 0


async def test_concurrent_appends_get_distinct_consecutive_numbers(log_store: JobLogStore) -> None:
    per_job = 20

    async def append(job_id: str, n: int) -> LogRecord:
        return await log_store.append(job_id, at(n), "INFO", f"{job_id} line {n}")

    records = await asyncio.gather(*(append(job_id, n) for n in range(per_job) for job_id in ("a", "b")))
    for job_id in ("a", "b"):
        mine = [r for r in records if r.job_id == job_id]
        assert sorted(r.seq for r in mine) == list(range(per_job))
        stored = await log_store.read(job_id)
        assert stored == sorted(mine, key=lambda r: r.seq)


def lines(*pairs: tuple[str, str]) -> list[LogLine]:
    return [LogLine(job_id=job_id, at=at(i), level="INFO", line=text) for i, (job_id, text) in enumerate(pairs)]


async def test_append_many_numbers_each_jobs_lines_after_its_last_one(log_store: JobLogStore) -> None:
    await write(log_store, "one", "a", "b")
    batch = lines(("one", "c"), ("two", "x"), ("one", "d"), ("two", "y"), ("three", "only"))
    records = await log_store.append_many(batch)
    assert [(r.job_id, r.seq, r.line) for r in records] == [
        ("one", 2, "c"),
        ("two", 0, "x"),
        ("one", 3, "d"),
        ("two", 1, "y"),
        ("three", 0, "only"),
    ]
    assert [r.line for r in await log_store.read("one")] == ["a", "b", "c", "d"]
    assert await log_store.read("two") == [r for r in records if r.job_id == "two"]
    assert await log_store.append_many([]) == []
    (single,) = await log_store.append_many(lines(("three", "again")))
    assert single.seq == 1


async def test_concurrent_batches_and_single_appends_never_share_a_number(log_store: JobLogStore) -> None:
    async def batch(n: int) -> list[LogRecord]:
        return await log_store.append_many(
            lines(*((job_id, f"batch {n} {job_id} {k}") for k in range(5) for job_id in ("a", "b")))
        )

    async def single(n: int) -> list[LogRecord]:
        return [await log_store.append("a", at(n), "INFO", f"single {n}")]

    results = await asyncio.gather(*(batch(n) for n in range(6)), *(single(n) for n in range(6)))
    mine = [r for records in results for r in records if r.job_id == "a"]
    assert sorted(r.seq for r in mine) == list(range(36))
    assert await log_store.read("a") == sorted(mine, key=lambda r: r.seq)
    for records in results[:6]:  # a batch's lines of one job keep their order
        seqs = [r.seq for r in records if r.job_id == "b"]
        assert seqs == sorted(seqs)


def numbered(job_id: str, run: str, *texts: str, first: int = 0) -> list[LogLine]:
    return [
        LogLine(job_id=job_id, at=at(first + i), level="INFO", line=text, run=run, run_seq=first + i)
        for i, text in enumerate(texts)
    ]


async def test_a_batch_delivered_again_stores_nothing_twice(log_store: JobLogStore) -> None:
    batch = numbered("job", "run-1", "a", "b", "c")
    first = await log_store.append_many(batch)
    assert await log_store.append_many(batch) == []
    assert await log_store.append_many(batch[1:2]) == []
    assert await log_store.read("job") == first
    assert [r.line for r in first] == ["a", "b", "c"]


async def test_a_batch_overlapping_stored_lines_stores_only_the_new_ones_after_them(log_store: JobLogStore) -> None:
    await log_store.append_many(numbered("job", "run-1", "a", "b"))
    await log_store.append("job", at(5), "WARNING", "a line of the service")
    records = await log_store.append_many([*numbered("job", "run-1", "b", "c", first=1), *numbered("other", "r", "x")])
    assert [(r.job_id, r.seq, r.line) for r in records] == [("job", 3, "c"), ("other", 0, "x")]
    assert [r.line for r in await log_store.read("job")] == ["a", "b", "a line of the service", "c"]


async def test_a_line_repeated_within_one_batch_is_stored_once(log_store: JobLogStore) -> None:
    line = numbered("job", "run-1", "a")
    records = await log_store.append_many([*line, *line, *numbered("job", "run-1", "b", first=1)])
    assert [r.line for r in records] == ["a", "b"]


async def test_the_same_number_in_another_run_or_job_is_another_line(log_store: JobLogStore) -> None:
    await log_store.append_many(numbered("job", "run-1", "first run"))
    await log_store.append_many(numbered("job", "run-2", "second run"))
    await log_store.append_many(numbered("other", "run-1", "other job"))
    unnumbered = LogLine(job_id="job", at=at(1), level="INFO", line="unnumbered")
    await log_store.append_many([unnumbered])
    await log_store.append_many([unnumbered])
    assert [r.line for r in await log_store.read("job")] == ["first run", "second run", "unnumbered", "unnumbered"]
    assert len(await log_store.read("other")) == 1


async def test_concurrent_deliveries_of_one_batch_store_each_line_once(log_store: JobLogStore) -> None:
    batch = numbered("job", "run-1", *(f"line {n}" for n in range(10)))
    results = await asyncio.gather(*(log_store.append_many(batch) for _ in range(6)))
    assert sum(len(r) for r in results) == 10
    assert [r.line for r in await log_store.read("job")] == [f"line {n}" for n in range(10)]


async def test_a_deleted_log_takes_its_numbered_lines_again(log_store: JobLogStore) -> None:
    await log_store.append_many(numbered("job", "run-1", "a"))
    await log_store.delete("job")
    assert len(await log_store.append_many(numbered("job", "run-1", "a"))) == 1


async def test_a_batch_keeps_each_lines_text_level_and_zoned_time(log_store: JobLogStore) -> None:
    zone = timezone(timedelta(hours=5, minutes=45))
    batch = [
        LogLine(job_id="one", at=at(1).astimezone(zone) + timedelta(microseconds=1), level="ERROR", line="été\t✓"),
        LogLine(job_id="two", at=at(2), level="NULL", line='{"json": [1]} \\ "q" \n ✓', run="r", run_seq=0),
        LogLine(job_id="one", at=at(3), level="", line="", run="r", run_seq=0),
    ]
    records = await log_store.append_many(batch)
    assert [(r.job_id, r.seq, r.at, r.level, r.line) for r in records] == [
        ("one", 0, batch[0].at, "ERROR", "été\t✓"),
        ("two", 0, at(2), "NULL", batch[1].line),
        ("one", 1, at(3), "", ""),
    ]
    assert [*await log_store.read("one"), *await log_store.read("two")] == [records[0], records[2], records[1]]


async def test_batches_of_many_jobs_numbered_and_replayed_store_every_line_once_without_gaps(
    log_store: JobLogStore,
) -> None:
    """Batches the size the service sends (up to hundreds of lines of dozens of jobs), half of
    them numbered by their run, delivered twice and mixed with a single line per job."""
    job_ids = [f"job-{j:02d}" for j in range(20)]
    batches = [
        [
            LogLine(
                job_id=job_id,
                at=at(b),
                level="INFO",
                line=f"{job_id} {b} {k}",
                run="run" if k % 2 else None,
                run_seq=b * 10 + k,
            )
            for job_id in job_ids
            for k in range(10)
        ]
        for b in range(3)
    ]
    for batch in batches:
        await log_store.append_many(batch)
        await log_store.append("job-00", at(9), "INFO", "single")
        assert len(await log_store.append_many(batch)) == len(batch) // 2  # the unnumbered half again
    for job_id in job_ids:
        stored = await log_store.read(job_id)
        assert [r.seq for r in stored] == list(range(len(stored)))
        assert len(stored) == 3 * 15 + (3 if job_id == "job-00" else 0)
