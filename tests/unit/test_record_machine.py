"""The record machine, event in, assertion out: no store, no loop, no threads."""

from __future__ import annotations

import json

import pytest
from msgspec.structs import replace

from dpr.domain.errors import InvalidTransition
from dpr.domain.events import AnyEvent, Failed, Logged, Progressed, Started, Succeeded
from dpr.domain.execute import ExecuteRequest, Subscriber
from dpr.domain.job import Job
from dpr.domain.process import ProcessCatalog
from dpr.domain.status import JobStatus
from dpr.ports.log_store import LogLine
from dpr.services.callbacks import with_callback_base
from dpr.services.record_machine import (
    Batch,
    Gone,
    Keep,
    Notify,
    RecordMachine,
    Reread,
    Wake,
    Write,
    applying,
    split,
)
from dpr.services.waiters import POLL_SECONDS, next_pause
from tests.builders import at, make_job

SUBSCRIBER = Subscriber(inProgressUri="http://cb.example/progress", successUri="http://cb.example/done")


def machine(public_base: str = "", calls_back: bool = False) -> RecordMachine:
    return RecordMachine(ProcessCatalog([]), public_base, calls_back)


def subscribed(job_id: str = "job-1", callback_base: str | None = None) -> Job:
    request = ExecuteRequest(inputs={"echo": "hi"}, subscriber=SUBSCRIBER, callback_base=callback_base)
    return replace(make_job(job_id), request=request)


def test_log_lines_are_split_from_each_jobs_other_events_which_keep_their_order() -> None:
    events: list[AnyEvent] = [
        Started(job_id="a", at=at(1)),
        Logged(job_id="a", at=at(2), line="one", level="DEBUG"),
        Started(job_id="b", at=at(2)),
        Progressed(job_id="a", at=at(3), progress=5),
    ]
    lines, changes = split(events)
    assert lines == [LogLine(job_id="a", at=at(2), level="DEBUG", line="one")]
    assert changes == {"a": [events[0], events[3]], "b": [events[2]]}


def test_a_tracked_jobs_events_fold_into_one_planned_write_over_its_remembered_version() -> None:
    m, job = machine(), make_job("a")
    m.track(job)
    batch = m.plan({"a": [Started(job_id="a", at=at(1)), Succeeded(job_id="a", at=at(2), outputs={"x": 1})]})
    assert batch.fallback == [] and len(batch.planned) == 1
    steps = batch.planned[0]
    assert steps[0] is job and [s.status for s in steps[1:]] == [JobStatus.RUNNING, JobStatus.SUCCESSFUL]


def test_a_job_not_run_here_falls_back_to_the_store() -> None:
    batch = machine().plan({"unknown": [Started(job_id="unknown", at=at(1))]})
    assert batch == Batch(planned=[], fallback=["unknown"])


def test_events_that_change_nothing_plan_no_write() -> None:
    m = machine()
    m.track(make_job("running", status=JobStatus.RUNNING))
    m.track(make_job("ended", status=JobStatus.SUCCESSFUL))
    late: dict[str, list[AnyEvent]] = {
        "running": [Started(job_id="running", at=at(5))],
        "ended": [Failed(job_id="ended", at=at(5), error="late")],
    }
    assert m.plan(late) == Batch(planned=[], fallback=[])


def test_a_stored_end_wakes_the_waiters_and_the_job_is_no_longer_guessed() -> None:
    m, job = machine(), make_job("a", status=JobStatus.RUNNING)
    m.track(job)
    done = job.apply(Failed(job_id="a", at=at(9), error="boom"))
    assert m.stored([job, done]) == [Wake(job_id="a")]
    assert m.guess("a") is None
    assert m.plan({"a": [Failed(job_id="a", at=at(9), error="late")]}).fallback == ["a"]


def test_a_stored_change_that_does_not_end_the_job_becomes_the_next_guess() -> None:
    m, job = machine(), make_job("a")
    m.track(job)
    running = job.apply(Started(job_id="a", at=at(1)))
    assert m.stored([job, running]) == []
    assert m.guess("a") is running


def test_a_write_that_lost_in_the_batch_falls_back_and_the_winners_have_their_effects() -> None:
    m, won, lost = machine(), make_job("won", status=JobStatus.RUNNING), make_job("lost", status=JobStatus.RUNNING)
    m.track(won)
    m.track(lost)
    batch = m.plan({j: [Succeeded(job_id=j, at=at(5), outputs={})] for j in ("won", "lost")})
    effects, fallback = m.batch_stored(batch, [None, RuntimeError("another writer won")])
    assert (effects, fallback) == ([Wake(job_id="won")], ["lost"])


def test_every_change_folded_into_one_write_calls_the_subscriber_back() -> None:
    m, job = machine("http://dpr.example", calls_back=True), subscribed("a")
    m.track(job)
    events: list[AnyEvent] = [
        Started(job_id="a", at=at(1)),
        Progressed(job_id="a", at=at(2), progress=40),
        Succeeded(job_id="a", at=at(3), outputs={"echo": "x"}),
    ]
    effects, _ = m.batch_stored(m.plan({"a": events}), [None])
    sent = [(e.url, json.loads(e.body)) for e in effects if isinstance(e, Notify)]
    assert [(url, body.get("status"), body.get("progress")) for url, body in sent] == [
        ("http://cb.example/progress", "running", 0),
        ("http://cb.example/progress", "running", 40),
        ("http://cb.example/done", None, None),
    ]
    assert Wake(job_id="a") in effects


def status_link(effects: list[Notify | Wake]) -> str:
    body = json.loads(next(e.body for e in effects if isinstance(e, Notify)))
    return next(link["href"] for link in body["links"] if link["rel"] == "self")


def test_callback_links_start_with_the_configured_address_before_the_one_the_request_stored() -> None:
    job = subscribed("a", callback_base="http://asked.example")
    running = job.apply(Started(job_id="a", at=at(1)))
    configured = machine("http://dpr.example", calls_back=True).stored([job, running])
    assert status_link(configured).startswith("http://dpr.example/jobs/a")
    unconfigured = machine("", calls_back=True).stored([job, running])
    assert status_link(unconfigured).startswith("http://asked.example/jobs/a")


def test_a_request_stores_the_callback_address_only_when_it_has_a_subscriber() -> None:
    plain = ExecuteRequest(inputs={})
    assert with_callback_base(plain, "http://asked.example") is plain
    assert with_callback_base(replace(plain, subscriber=SUBSCRIBER), "http://asked.example").callback_base == (
        "http://asked.example"
    )


def test_without_a_notifier_nobody_is_called_back() -> None:
    job = subscribed("a")
    assert machine("http://dpr.example").stored([job, job.apply(Started(job_id="a", at=at(1)))]) == []


def test_a_change_to_a_job_the_store_no_longer_has_is_gone_and_forgotten() -> None:
    m = machine()
    m.track(make_job("a"))
    assert m.attempt("a", None, applying(Started(job_id="a", at=at(1))), guessed=False) == Gone()
    assert m.guess("a") is None


def test_a_change_to_a_remembered_record_is_a_write_over_its_version() -> None:
    m, job = machine(), make_job("a")
    m.track(job)
    guess = m.guess("a")
    attempt = m.attempt("a", guess, applying(Started(job_id="a", at=at(1))), guessed=True)
    assert isinstance(attempt, Write) and attempt.old is job and attempt.new.status is JobStatus.RUNNING


def test_a_remembered_record_the_change_does_not_fit_is_decided_again_on_the_stored_one() -> None:
    m, stale = machine(), make_job("a", status=JobStatus.SUCCESSFUL)
    assert m.attempt("a", stale, lambda j: j.start(at(1)), guessed=True) == Reread()
    assert m.attempt("a", stale, applying(Started(job_id="a", at=at(1))), guessed=True) == Reread()


def test_a_stored_record_the_change_leaves_alone_is_kept_and_one_it_refuses_raises() -> None:
    m, done = machine(), make_job("a", status=JobStatus.SUCCESSFUL)
    assert m.attempt("a", done, lambda j: j, guessed=False) == Keep(job=done)
    with pytest.raises(InvalidTransition):
        m.attempt("a", done, lambda j: j.start(at(9)), guessed=False)


def test_forgetting_a_job_wakes_its_waiters() -> None:
    m = machine()
    m.track(make_job("a"))
    assert m.forget("a") == [Wake(job_id="a")] and m.guess("a") is None


def test_a_wait_ends_when_the_job_ended_or_the_time_is_up_and_else_rereads_at_least_every_poll() -> None:
    running, ended = make_job(status=JobStatus.RUNNING), make_job(status=JobStatus.FAILED)
    assert next_pause(ended, 30) is None
    assert next_pause(running, 0) is None
    assert next_pause(running, 30) == POLL_SECONDS
    assert next_pause(running, POLL_SECONDS / 4) == POLL_SECONDS / 4
