"""The Prefer header and the job-list query parameters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dpr.domain.errors import InvalidParameter
from dpr.domain.job_filters import parse_datetime, parse_job_query
from dpr.domain.mode import Mode, Preference, choose_mode
from dpr.domain.process import JobControl, ProcessDescription
from dpr.domain.query import Cursor
from dpr.domain.status import JobStatus
from dpr.entrypoints.http.prefer import parse_prefer, preference_applied
from dpr.services.submission import Execution
from tests.builders import T0, make_job


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Preference()),
        ("respond-async", Preference(respond_async=True)),
        ("respond-async, wait=10", Preference(respond_async=True, wait=10.0)),
        ("return=minimal; respond-async", Preference(respond_async=True, return_="minimal")),
        ("respond-sync", Preference()),  # OWSLib sends this; not a registered preference
        ("wait=soon, frobnicate", Preference()),
    ],
)
def test_prefer_is_parsed_leniently(header, expected):
    assert parse_prefer(header) == expected


BOTH = ProcessDescription(id="p", jobControlOptions=[JobControl.SYNC, JobControl.ASYNC])
ASYNC_ONLY = ProcessDescription(id="p", jobControlOptions=[JobControl.ASYNC])
SYNC_ONLY = ProcessDescription(id="p", jobControlOptions=[JobControl.SYNC])


def test_a_process_offering_both_modes_follows_the_preference():
    assert choose_mode(BOTH, Preference()) is Mode.SYNC
    assert choose_mode(BOTH, Preference(respond_async=True)) is Mode.ASYNC


def test_a_process_offering_one_mode_gets_it_whatever_is_preferred():
    assert choose_mode(ASYNC_ONLY, Preference()) is Mode.ASYNC
    assert choose_mode(SYNC_ONLY, Preference(respond_async=True)) is Mode.SYNC


@pytest.mark.parametrize(
    ("respond_async", "wait", "header"),
    [(True, None, "respond-async"), (False, 0.5, "wait=0.5"), (False, 10.0, "wait=10"), (False, None, None)],
)
def test_preference_applied_names_what_the_execution_honoured(respond_async, wait, header):
    run = Execution(
        job=make_job(), mode=Mode.ASYNC, process=BOTH, respond_async_applied=respond_async, wait_applied=wait
    )
    assert preference_applied(run) == header


def test_job_filters_accept_lists_repetitions_and_intervals():
    query = parse_job_query(
        {
            "status": ["running,accepted"],
            "processID": ["echo", "mockup"],
            "datetime": ["2026-01-01T00:00:00Z/.."],
            "limit": ["5"],
            "type": ["process"],
        },
        T0,
    )
    assert query.statuses == {JobStatus.RUNNING, JobStatus.ACCEPTED}
    assert query.process_ids == {"echo", "mockup"}
    assert query.created_from == datetime(2026, 1, 1, tzinfo=UTC) and query.created_to is None
    assert query.limit == 5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-01-01T10:00:00Z", (datetime(2026, 1, 1, 10, tzinfo=UTC),) * 2),
        ("../2026-01-01T10:00:00+01:00", (None, datetime(2026, 1, 1, 9, tzinfo=UTC))),
        ("2026-01-01/", (datetime(2026, 1, 1, tzinfo=UTC), None)),
    ],
)
def test_datetime_instants_and_open_intervals(text, expected):
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"status": ["sleeping"]}, "status"),
        ({"limit": ["0"]}, "limit"),
        ({"limit": ["ten"]}, "limit"),
        ({"limit": ["100000"]}, "limit"),
        ({"datetime": ["yesterday"]}, "datetime"),
        ({"datetime": ["2026-02-01T00:00:00Z/2026-01-01T00:00:00Z"]}, "datetime"),
        ({"datetime": ["2026-01-01T10:00:00"]}, "datetime"),
        ({"minDuration": ["-1"]}, "minDuration"),
        ({"minDuration": ["10"], "maxDuration": ["5"]}, "minDuration"),
        ({"type": ["wps"]}, "type"),
        ({"cursor": ["%%%garbage"]}, "cursor"),
    ],
)
def test_invalid_job_filters_name_the_parameter(params, name):
    with pytest.raises(InvalidParameter) as info:
        parse_job_query(params, T0)
    assert info.value.name == name


def test_cursors_round_trip_and_stay_opaque():
    cursor = Cursor(created=T0 + timedelta(microseconds=7), job_id="abc")
    token = cursor.encode()
    assert Cursor.decode(token) == cursor and "abc" not in token
