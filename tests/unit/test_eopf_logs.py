"""EOPF's output as job log records: EOPF's levels, no second timestamp, tracebacks grouped.

The lines are those ``eopf trigger local`` (EOPF 3.0.0) prints with basic logging, shortened.
"""

from __future__ import annotations

import pytest

from dpr.adapters.processors.eopf_logs import EopfLines, Record, parse_record
from dpr.adapters.processors.eopf_run import EopfOutput
from dpr.domain.events import Logged
from tests.builders import processor_context

T = "2026-12-03 08:27:27,648 : "
PROGRESS = f"{T}[INFO] eopf.triggering.workflow_progress : workflow_progress : _log :: Workflow progress: 0% - started"
FAILED = f"{T}[ERROR] eopf.triggering.workflow : workflow : _handle_unit_exception :: generator has raised an exception"
TRACEBACK = [
    "Traceback (most recent call last):",
    '  File "/venv/lib/python3.13/site-packages/dask/array/creation.py", line 438, in arange',
    "    num = int(max(np.ceil((stop - start) / step), 0))",
    "                           ~~~~~^~~~~~~",
    "TypeError: unsupported operand type(s) for -: 'str' and 'int'",
    "",
    "The above exception was the direct cause of the following exception:",
    "",
    "Traceback (most recent call last):",
    '  File "/venv/lib/python3.13/site-packages/dask/backends.py", line 151, in wrapper',
    "    raise exc from e",
    "TypeError: An error occurred while calling the arange method registered to the numpy backend.",
    "Original Message: unsupported operand type(s) for -: 'str' and 'int'",
]
FLUSHING = (
    f"{T}[INFO] eopf.triggering.workflow_progress : workflow_progress : _log :: Workflow progress: 90% - flushing"
)
ZARR_WARNING = [
    "/venv/lib/python3.13/site-packages/zarr/api/asynchronous.py:260: ZarrUserWarning: Consolidated metadata is "
    "currently not part in the Zarr format 3 specification.",
    "  warnings.warn(",
]


def records(lines: list[str], default: str = "WARNING") -> list[Record]:
    out: list[Record] = []
    stream = EopfLines(out.append, default)
    for line in lines:
        stream.feed(line)
    stream.flush()
    return out


@pytest.mark.parametrize(
    ("line", "level", "text"),
    [
        (PROGRESS, "INFO", "eopf.triggering.workflow_progress: Workflow progress: 0% - started"),
        (FAILED, "ERROR", "eopf.triggering.workflow: generator has raised an exception"),
        (
            "2026-12-03 08:27:07,835 : [WARNING] eopf.store.writer_dispatcher : writer_dispatcher : write :: a: b :: c",
            "WARNING",
            "eopf.store.writer_dispatcher: a: b :: c",
        ),
    ],
)
def test_an_eopf_log_line_keeps_its_level_and_message_without_its_timestamp(line, level, text):
    assert parse_record(line) == Record(level=level, line=text)


@pytest.mark.parametrize("line", ["Error: Class NoSuchUnit not found", "2026 : [NOTICE] x : y :: z", "  File x"])
def test_other_lines_are_no_eopf_records(line):
    assert parse_record(line) is None


def test_a_traceback_with_its_chained_ones_and_its_message_is_one_error_record():
    found = records([PROGRESS, FAILED, *TRACEBACK, FLUSHING])
    assert [r.level for r in found] == ["INFO", "ERROR", "ERROR", "INFO"]
    assert found[2].line == "\n".join(TRACEBACK)
    assert found[3].line.endswith("90% - flushing")


def test_a_traceback_cut_short_by_the_end_of_the_stream_is_still_one_record():
    assert records(TRACEBACK[:3]) == [Record(level="ERROR", line="\n".join(TRACEBACK[:3]))]


def test_a_python_warning_is_a_warning_and_a_record_s_continuation_keeps_its_level():
    found = records([PROGRESS, *ZARR_WARNING, FAILED, "Original Message: more", "Error: plain"], default="INFO")
    assert [(r.level, r.line[:14]) for r in found] == [
        ("INFO", "eopf.triggerin"),
        ("WARNING", "/venv/lib/pyth"),
        ("WARNING", "  warnings.war"),
        ("ERROR", "eopf.triggerin"),
        ("ERROR", "Original Messa"),
        ("ERROR", "Error: plain"),
    ]
    assert records(["plain words"], default="INFO") == [Record(level="INFO", line="plain words")]


def test_the_job_log_gets_eopf_s_levels_and_the_reports_file_the_lines_as_printed(tmp_path):
    run_context, events = processor_context()
    log_file = tmp_path / "reports" / "payload.processor.log"
    output = EopfOutput(run_context, [], log_file)
    for line in [PROGRESS, FAILED, *TRACEBACK[:5]]:
        output.log(line, "WARNING")  # stderr
    output.log("done", "INFO")  # stdout
    output.close()
    logged = [(e.level, e.line.splitlines()[0]) for e in events if isinstance(e, Logged)]
    assert logged == [
        ("INFO", "eopf.triggering.workflow_progress: Workflow progress: 0% - started"),
        ("ERROR", "eopf.triggering.workflow: generator has raised an exception"),
        ("INFO", "done"),
        ("ERROR", "Traceback (most recent call last):"),
    ], "the traceback's end was not seen: it is flushed when the run's output closes"
    assert log_file.read_text().splitlines()[0] == PROGRESS
