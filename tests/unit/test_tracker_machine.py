"""The Dask tracker machine, event in, assertion out: no cluster, no loop, no threads."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec

from dpr.adapters.dask.tracker_machine import (
    DROPPED,
    GAP,
    LOST,
    NEVER_STARTED_FLAG_TTL,
    Adoption,
    TrackerMachine,
    adoption,
    cancel_steps,
)
from dpr.adapters.dask.tracker_messages import (
    AwaitEnd,
    CancelRequested,
    Deliver,
    ErrorFetched,
    FetchError,
    FetchResult,
    Instruction,
    LingerOver,
    Reattach,
    Reattached,
    Reconnected,
    Recorded,
    Release,
    ReleaseLater,
    Replay,
    Replayed,
    Resubmit,
    Resubmitted,
    ResultFetched,
    SchedulerStates,
    Stop,
    TaskEnded,
    Unwatched,
    Watched,
    WorkerEvents,
)
from dpr.domain.events import AnyEvent, Failed, Logged, Progressed, Started, Succeeded

AT = datetime(2030, 1, 1, tzinfo=UTC)


def watching(job_id: str = "a", retries: int = 0, started: bool = False, durable: bool = True) -> TrackerMachine:
    machine = TrackerMachine(durable=durable, linger=15.0)
    assert machine.handle(Watched(job_id=job_id, retries=retries, started=started)) == [
        AwaitEnd(job_id=job_id, generation=1)
    ]
    return machine


def delivered(instructions: list[Instruction]) -> list[AnyEvent]:
    return [i.event for i in instructions if isinstance(i, Deliver)]


def ended(machine: TrackerMachine, status: str, job_id: str = "a") -> list[Instruction]:
    return machine.handle(TaskEnded(job_id=job_id, generation=machine.jobs[job_id].generation, status=status, at=AT))


def test_only_the_events_of_watched_jobs_are_delivered_in_order() -> None:
    machine = watching("a")
    events: list[AnyEvent] = [
        Started(job_id="a", at=AT),
        Started(job_id="elsewhere", at=AT),
        Progressed(job_id="a", at=AT, progress=50),
    ]
    assert delivered(machine.handle(WorkerEvents(events=events))) == [events[0], events[2]]


def test_events_after_the_outcome_are_late_and_dropped() -> None:
    machine = watching("a")
    done = Succeeded(job_id="a", at=AT, outputs={})
    machine.handle(WorkerEvents(events=[done]))
    assert machine.handle(WorkerEvents(events=[Failed(job_id="a", at=AT, error="twice")])) == []
    assert ended(machine, "finished") == [], "the outcome came by the topic: the result is not fetched"


def test_a_recorded_outcome_releases_the_task_and_unpublishes_it_on_a_durable_cluster() -> None:
    for durable in (True, False):
        machine = watching("a", durable=durable)
        done = Succeeded(job_id="a", at=AT, outputs={})
        machine.handle(WorkerEvents(events=[done]))
        assert machine.handle(Recorded(events=[done])) == [Release(job_id="a", unpublish=durable)]
        assert not machine.watching("a")


def test_a_finished_task_whose_batch_was_missed_gives_its_outcome_from_its_result() -> None:
    machine = watching("a")
    assert ended(machine, "finished") == [FetchResult(job_id="a", generation=1)]
    outcome = Succeeded(job_id="", at=AT, outputs={"x": 1})  # a worker that could not read the task
    fetched = machine.handle(ResultFetched(job_id="a", generation=1, event=outcome, at=AT))
    assert delivered(fetched) == [Succeeded(job_id="a", at=AT, outputs={"x": 1})]


def test_a_result_that_cannot_be_fetched_fails_the_job_as_dropped() -> None:
    machine = watching("a")
    fetched = machine.handle(ResultFetched(job_id="a", generation=1, error="OSError", at=AT))
    assert delivered(fetched) == [Failed(job_id="a", at=AT, error=DROPPED.format("OSError"))]


def test_a_task_the_cluster_lost_fails_the_job() -> None:
    machine = watching("a")
    assert delivered(ended(machine, "lost")) == [Failed(job_id="a", at=AT, error=DROPPED.format("lost"))]


def test_a_task_that_erred_fails_the_job_with_its_error() -> None:
    machine = watching("a", retries=2)
    assert ended(machine, "error") == [FetchError(job_id="a", generation=1)]
    failed = delivered(machine.handle(ErrorFetched(job_id="a", generation=1, error="ValueError: no", at=AT)))
    assert failed == [Failed(job_id="a", at=AT, error="the cluster could not run this job: ValueError: no")]


def test_a_worker_dying_before_the_job_started_reruns_it_for_free_a_few_times() -> None:
    machine = watching("a", retries=0)
    for generation in (1, 2, 3):
        died = ErrorFetched(job_id="a", generation=generation, worker_died=True, at=AT)
        assert machine.handle(died) == [Resubmit(job_id="a", generation=generation)]
        again = machine.handle(Resubmitted(job_id="a", generation=generation, at=AT))
        assert again[0] == AwaitEnd(job_id="a", generation=generation + 1)
        line = delivered(again)[0]
        assert isinstance(line, Logged) and "running it again (0 of 0 retries)" in line.line
    failed = delivered(machine.handle(ErrorFetched(job_id="a", generation=4, worker_died=True, at=AT)))
    assert failed == [
        Failed(job_id="a", at=AT, error="the worker running this job died (1 time(s); the process allows 0 retries)")
    ]
    assert machine.jobs["a"].attempt == 4


def test_a_worker_dying_under_a_started_job_reruns_it_while_its_retries_allow() -> None:
    machine = watching("a", retries=1, started=True)
    assert machine.handle(ErrorFetched(job_id="a", generation=1, worker_died=True, at=AT)) == [
        Resubmit(job_id="a", generation=1)
    ]
    line = delivered(machine.handle(Resubmitted(job_id="a", generation=1, at=AT)))[0]
    assert isinstance(line, Logged) and line.level == "WARNING" and "(1 of 1 retries)" in line.line
    machine.handle(WorkerEvents(events=[Started(job_id="a", at=AT)]))
    failed = delivered(machine.handle(ErrorFetched(job_id="a", generation=2, worker_died=True, at=AT)))
    assert failed == [
        Failed(job_id="a", at=AT, error="the worker running this job died (2 time(s); the process allows 1 retry)")
    ]


def test_a_report_about_an_earlier_run_changes_nothing() -> None:
    machine = watching("a", retries=1, started=True)
    machine.handle(ErrorFetched(job_id="a", generation=1, worker_died=True, at=AT))
    machine.handle(Resubmitted(job_id="a", generation=1, at=AT))
    assert machine.handle(TaskEnded(job_id="a", generation=1, status="error", at=AT)) == []
    assert machine.handle(ResultFetched(job_id="a", generation=1, error="OSError", at=AT)) == []


def test_a_cancelled_job_is_never_retried_and_a_started_one_may_still_report_for_a_while() -> None:
    machine = watching("a", retries=3)
    machine.handle(CancelRequested(job_id="a"))
    assert machine.handle(ErrorFetched(job_id="a", generation=1, worker_died=True, at=AT))[0] == Deliver(
        event=Failed(
            job_id="a", at=AT, error="the worker running this job died (1 time(s); the process allows 3 retries)"
        )
    )
    queued, running = watching("q"), watching("r", started=True)
    for machine, job_id, delay in ((queued, "q", 0.0), (running, "r", 15.0)):
        machine.handle(CancelRequested(job_id=job_id))
        assert ended(machine, "cancelled", job_id) == [ReleaseLater(job_id=job_id, delay=delay)]
        assert machine.handle(LingerOver(job_id=job_id)) == [Release(job_id=job_id, unpublish=True)]


def test_an_unwatched_job_is_forgotten_without_releasing_its_task() -> None:
    machine = watching("a")
    assert machine.handle(Unwatched(job_id="a")) == []
    assert machine.handle(TaskEnded(job_id="a", generation=1, status="cancelled", at=AT)) == []


def test_cancelling_stops_only_unfinished_tasks_and_lowers_the_flag_of_those_that_never_started() -> None:
    assert cancel_steps(None) == (False, None)
    assert cancel_steps("memory") == (False, None)
    assert cancel_steps("erred") == (False, None)
    assert cancel_steps("processing") == (True, None)
    assert cancel_steps("queued") == (True, NEVER_STARTED_FLAG_TTL)


def test_an_adopted_job_is_followed_only_while_its_task_is_published_and_known_to_the_scheduler() -> None:
    assert adoption(durable=True, published=True, state="processing") is Adoption.FOLLOW
    assert adoption(durable=True, published=True, state="memory") is Adoption.FOLLOW
    assert adoption(durable=True, published=True, state=None) is Adoption.FORGOTTEN
    assert adoption(durable=True, published=False, state=None) is Adoption.LOST
    assert adoption(durable=False, published=True, state="processing") is Adoption.LOST


def numbered(run: str, *events: AnyEvent, first: int = 0) -> list[AnyEvent]:
    return [msgspec.structs.replace(e, run=run, seq=first + i) for i, e in enumerate(events)]


def line(text: str, job_id: str = "a") -> Logged:
    return Logged(job_id=job_id, at=AT, line=text)


def test_an_event_delivered_once_is_dropped_when_it_comes_again() -> None:
    machine = watching("a")
    batch = numbered("r1", Started(job_id="a", at=AT), line("one"), line("two"))
    assert delivered(machine.handle(WorkerEvents(events=batch))) == batch
    assert machine.handle(WorkerEvents(events=batch[1:])) == []
    more = numbered("r1", line("two"), line("three"), first=2)
    assert delivered(machine.handle(WorkerEvents(events=more))) == more[1:]


def test_missing_event_numbers_are_reported_by_a_gap_line_before_the_next_event() -> None:
    machine = watching("a")
    machine.handle(WorkerEvents(events=numbered("r1", Started(job_id="a", at=AT))))
    later = numbered("r1", line("late"), first=4)
    gap, event = delivered(machine.handle(WorkerEvents(events=later)))
    assert isinstance(gap, Logged) and gap.level == "WARNING" and gap.line == GAP.format(3)
    assert gap.run is None, "the gap line is the service's own, never taken for a worker's line"
    assert event == later[0]


def test_an_adopted_job_delivers_the_replayed_events_first_then_the_topics_each_once() -> None:
    machine = TrackerMachine(durable=True, linger=15.0)
    assert machine.handle(Watched(job_id="a", replay=True)) == [
        AwaitEnd(job_id="a", generation=1),
        Replay(job_id="a"),
    ]
    events = numbered("r1", Started(job_id="a", at=AT), line("one"), line("two"), line("three"))
    assert machine.handle(WorkerEvents(events=events[2:])) == [], "held until the replay is in"
    assert delivered(machine.handle(Replayed(job_id="a", events=events[:3]))) == events
    assert machine.handle(Replayed(job_id="a", events=events)) == [], "a second replay changes nothing"


def test_a_replay_that_no_longer_has_the_first_events_leaves_a_gap_line() -> None:
    machine = TrackerMachine(durable=True, linger=15.0)
    machine.handle(Watched(job_id="a", started=True, replay=True))
    events = delivered(machine.handle(Replayed(job_id="a", events=numbered("r1", line("n"), first=7))))
    assert [e.line for e in events if isinstance(e, Logged)] == [GAP.format(7), "n"]


def test_the_scheduler_rerunning_a_job_after_its_worker_died_counts_against_its_retries() -> None:
    machine = watching("a", retries=1)
    machine.handle(WorkerEvents(events=numbered("r1", Started(job_id="a", at=AT))))
    second = numbered("r2", Started(job_id="a", at=AT))
    note, started = delivered(machine.handle(WorkerEvents(events=second)))
    assert isinstance(note, Logged) and "running it again (1 of 1 retries; the scheduler re-ran it)" in note.line
    assert started == second[0]
    third = machine.handle(WorkerEvents(events=numbered("r3", Started(job_id="a", at=AT))))
    assert third[0] == Stop(job_id="a")
    assert delivered(third) == [
        Failed(job_id="a", at=AT, error="the worker running this job died (2 time(s); the process allows 1 retry)")
    ]
    assert machine.handle(WorkerEvents(events=numbered("r3", line("after"), first=1))) == []


def test_a_job_without_retries_rerun_by_the_scheduler_fails_at_once_and_its_task_is_stopped() -> None:
    machine = watching("a", retries=0)
    machine.handle(WorkerEvents(events=numbered("r1", Started(job_id="a", at=AT), line("working"))))
    out = machine.handle(WorkerEvents(events=numbered("r2", Started(job_id="a", at=AT))))
    assert out[0] == Stop(job_id="a")
    (failed,) = delivered(out)
    assert isinstance(failed, Failed) and "the process allows 0 retries" in failed.error


def test_dpr_rerunning_a_job_itself_is_not_taken_for_a_rerun_by_the_scheduler() -> None:
    machine = watching("a", retries=1)
    machine.handle(WorkerEvents(events=numbered("r1", Started(job_id="a", at=AT))))
    machine.handle(ErrorFetched(job_id="a", generation=1, worker_died=True, at=AT))
    machine.handle(Resubmitted(job_id="a", generation=1, at=AT))
    second = numbered("r2", Started(job_id="a", at=AT))
    assert delivered(machine.handle(WorkerEvents(events=second))) == second


def test_a_rerun_is_seen_even_when_the_first_runs_start_was_no_longer_in_the_replay() -> None:
    machine = TrackerMachine(durable=True, linger=15.0)
    machine.handle(Watched(job_id="a", started=True, replay=True))
    machine.handle(Replayed(job_id="a", events=numbered("r1", line("late in the run"), first=9)))
    out = machine.handle(WorkerEvents(events=numbered("r2", Started(job_id="a", at=AT))))
    assert out[0] == Stop(job_id="a")


def checked(machine: TrackerMachine, **states: str | None) -> list[Instruction]:
    return machine.handle(SchedulerStates(states=states, at=AT))


def test_a_job_the_scheduler_forgot_fails_on_the_third_check_in_a_row() -> None:
    machine = watching("a")
    assert checked(machine, a=None) == [], "a task just sent may not have reached the scheduler yet"
    assert checked(machine, a=None) == []
    assert delivered(checked(machine, a=None)) == [Failed(job_id="a", at=AT, error=LOST)]
    assert machine.pending() == []


def test_a_job_the_scheduler_knows_again_starts_its_count_over() -> None:
    machine = watching("a")
    checked(machine, a=None)
    checked(machine, a=None)
    checked(machine, a="processing")
    assert checked(machine, a=None) == [] and checked(machine, a=None) == []


def test_a_cancelled_or_ended_job_is_not_failed_by_the_check() -> None:
    machine = watching("a")
    machine.handle(CancelRequested(job_id="a"))
    assert [checked(machine, a=None) for _ in range(3)] == [[], [], []]
    other = watching("b")
    other.handle(WorkerEvents(events=[Succeeded(job_id="b", at=AT, outputs={})]))
    assert other.pending() == []
    assert [checked(other, b=None) for _ in range(3)] == [[], [], []]


def test_after_a_reconnection_the_topic_waits_behind_a_replay_of_the_event_log() -> None:
    machine = watching("a")
    first = Started(job_id="a", at=AT, run="r", seq=0)
    machine.handle(WorkerEvents(events=[first]))
    assert machine.handle(Reconnected()) == [Replay(job_id="a")]
    later = Logged(job_id="a", at=AT, line="two", run="r", seq=2)
    assert machine.handle(WorkerEvents(events=[later])) == []
    missed = Logged(job_id="a", at=AT, line="one", run="r", seq=1)
    replayed = machine.handle(Replayed(job_id="a", events=[first, missed]))
    assert delivered(replayed) == [missed, later], "each event once, in order"


def test_a_future_cancelled_on_this_side_is_reattached_on_a_durable_cluster() -> None:
    machine = watching("a")
    assert ended(machine, "cancelled") == [Reattach(job_id="a", generation=1)]
    again = machine.handle(Reattached(job_id="a", generation=1, found=True, at=AT))
    assert again == [AwaitEnd(job_id="a", generation=2), Replay(job_id="a")]
    assert machine.handle(TaskEnded(job_id="a", generation=1, status="cancelled", at=AT)) == [], "late"


def test_a_job_whose_task_is_gone_when_reattached_fails_with_a_clear_message() -> None:
    machine = watching("a")
    ended(machine, "cancelled")
    lost = machine.handle(Reattached(job_id="a", generation=1, found=False, at=AT))
    assert delivered(lost) == [Failed(job_id="a", at=AT, error=LOST)]


def test_a_cancelled_future_on_an_embedded_cluster_fails_the_job_at_once() -> None:
    machine = watching("a", durable=False)
    assert delivered(ended(machine, "cancelled")) == [Failed(job_id="a", at=AT, error=DROPPED.format("cancelled"))]
