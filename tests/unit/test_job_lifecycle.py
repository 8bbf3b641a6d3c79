"""The job state machine: one transition table, terminal states final, time never backwards."""

from __future__ import annotations

import pickle

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dpr.domain import errors
from dpr.domain.errors import InvalidTransition
from dpr.domain.events import Failed, Logged, Progressed, Started, Succeeded
from dpr.domain.job import Job
from dpr.domain.status import TERMINAL, TRANSITIONS, JobStatus, can_move
from tests.builders import T0, at, make_job


def test_a_new_job_is_accepted_with_created_equal_to_updated():
    job = make_job()
    assert job.status is JobStatus.ACCEPTED
    assert job.created == job.updated == T0
    assert job.started is None and job.finished is None and job.progress == 0


def test_the_transition_table_is_the_one_the_standard_describes():
    assert TRANSITIONS[JobStatus.ACCEPTED] == {JobStatus.RUNNING, JobStatus.FAILED, JobStatus.DISMISSED}
    assert TRANSITIONS[JobStatus.RUNNING] == {JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.DISMISSED}
    assert TERMINAL == {JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.DISMISSED}


def test_starting_sets_started_and_running():
    job = make_job().start(at(3))
    assert job.status is JobStatus.RUNNING and job.started == at(3) and job.updated == at(3)
    assert job.version == 2


def test_success_sets_results_finished_and_full_progress():
    job = make_job(status=JobStatus.RUNNING).succeed(at(5), {"echo": "x"})
    assert (job.status, job.results, job.finished, job.progress) == (JobStatus.SUCCESSFUL, {"echo": "x"}, at(5), 100)


def test_failure_keeps_the_error_and_says_it_in_the_message():
    job = make_job(status=JobStatus.RUNNING).fail(at(5), "disk full")
    assert job.status is JobStatus.FAILED and job.error == "disk full" and "disk full" in job.message


@pytest.mark.parametrize("terminal", sorted(TERMINAL))
def test_a_terminal_job_refuses_every_move(terminal):
    job = make_job(status=terminal)
    for move in (
        lambda j: j.start(at(9)),
        lambda j: j.succeed(at(9), {}),
        lambda j: j.fail(at(9), "x"),
        lambda j: j.dismiss(at(9)),
    ):
        with pytest.raises(InvalidTransition):
            move(job)


def test_a_late_success_never_overwrites_a_dismissal():
    job = make_job(status=JobStatus.RUNNING).dismiss(at(4))
    assert job.apply(Succeeded(job_id=job.job_id, at=at(5), outputs={"a": 1})) is job


def test_progress_is_clamped_and_never_decreases():
    job = make_job(status=JobStatus.RUNNING).report(at(2), 150)
    assert job.progress == 100
    job = make_job(status=JobStatus.RUNNING).report(at(2), 40).report(at(3), 10, "still going")
    assert job.progress == 40 and job.message == "still going"


def test_progress_on_an_accepted_job_starts_it_first():
    job = make_job().apply(Progressed(job_id="job-1", at=at(2), progress=10))
    assert job.status is JobStatus.RUNNING and job.started == at(2) and job.progress == 10


def test_log_events_do_not_change_the_record():
    job = make_job(status=JobStatus.RUNNING)
    assert job.apply(Logged(job_id=job.job_id, at=at(9), line="hello")) is job


def test_a_clock_that_goes_back_does_not_move_timestamps_backwards():
    job = make_job(status=JobStatus.RUNNING)  # updated at T0+1s
    later = job.succeed(at(-100), {})
    assert later.finished == later.updated == job.updated


def test_duration_runs_to_now_while_running_and_to_finished_after():
    running = make_job(status=JobStatus.RUNNING)
    assert running.duration(at(11)).total_seconds() == 10
    assert make_job(status=JobStatus.SUCCESSFUL).duration(at(100)).total_seconds() == 1
    assert make_job().duration(at(100)) is None


ERROR_SAMPLES = [
    errors.NoSuchProcess("p"),
    errors.NoSuchJob("j"),
    errors.InvalidTransition("j", "successful", "running"),
    errors.ConcurrentUpdate("j", 1, 2),
    errors.ResultNotReady("j", "running"),
    errors.JobFailedError("j", "failed", "boom"),
    errors.InvalidInput("bad", "x"),
    errors.InvalidParameter("limit", "too big"),
    errors.NotAllowed("no"),
    errors.Overloaded("busy", 5),
    errors.Unavailable("database", "down", 3),
    errors.BadCredentials("unknown API key"),
    errors.NoSuchKey("k1"),
    errors.Forbidden("process 'p' is reserved to the roles ops"),
    errors.ProcessorError("broke"),
    errors.Cancelled("j"),
]


@pytest.mark.parametrize("error", ERROR_SAMPLES, ids=lambda e: type(e).__name__)
def test_every_domain_error_survives_pickle_with_its_fields(error):
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error) and copy.args == error.args and vars(copy) == vars(error)
    assert str(copy) == str(error) and str(error)


# -- property: no sequence of events breaks the rules -------------------------------------------

event_kinds = st.sampled_from(["start", "progress", "log", "succeed", "fail", "dismiss"])
steps = st.lists(st.tuples(event_kinds, st.integers(-50, 500), st.integers(-10, 200)), max_size=25)


def _step(job: Job, kind: str, dt: int, value: int) -> Job:
    when = at(dt)
    if kind == "dismiss":
        return job if job.is_terminal else job.dismiss(when)
    event = {
        "start": Started(job_id=job.job_id, at=when),
        "progress": Progressed(job_id=job.job_id, at=when, progress=value, message=f"at {value}"),
        "log": Logged(job_id=job.job_id, at=when, line="x"),
        "succeed": Succeeded(job_id=job.job_id, at=when, outputs={"v": value}),
        "fail": Failed(job_id=job.job_id, at=when, error="e"),
    }[kind]
    return job.apply(event)


@given(steps)
def test_no_sequence_of_events_leaves_a_terminal_state_or_turns_back_time(sequence):
    job = make_job()
    for kind, dt, value in sequence:
        new = _step(job, kind, dt, value)
        if job.is_terminal:
            assert new is job, "a terminal job changed"
        if new is not job:
            via_running = can_move(job.status, JobStatus.RUNNING) and can_move(JobStatus.RUNNING, new.status)
            assert new.status == job.status or can_move(job.status, new.status) or via_running
            assert new.version > job.version
        assert new.updated >= job.updated
        assert 0 <= new.progress <= 100 and new.progress >= job.progress
        for stamp in (new.started, new.finished):
            assert stamp is None or new.created <= stamp <= new.updated
        job = new
