"""Log injection (issue 14, section 4): a newline or an ESC sequence in a request path, an input
or a processor's output must not forge a line of the server's log, of ``dpr jobs logs``, of
the HTML log, or an event of the log streams (server-sent events)."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from dpr.domain.text import escape_controls
from dpr.entrypoints.cli.logs import line
from dpr.entrypoints.log_format import LOG_FORMAT, EscapingFormatter
from tests.integration.server import ROOT, running_server

FORGED = "ERROR dpr: forged line"


def server_log(url: str) -> str:
    port = url.rsplit(":", 1)[1]
    return (Path(os.environ.get("TMPDIR", "/tmp")) / f"dpr-server-{port}.log").read_text()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server at debug level (its access log on) offering ``say``, which prints its input."""
    config = tmp_path_factory.mktemp("log-injection") / "dpr.yaml"
    say = {"argv": ["echo", "{text}"], "inputs": {"text": {"type": "string"}}}
    config.write_text(
        yaml.safe_dump(
            {
                "processes": {
                    "definitions": [
                        {"id": "say", "processor": "dpr.adapters.processors.command:CommandProcessor", "options": say}
                    ]
                }
            }
        )
    )
    with running_server("--ephemeral", "--log-level", "debug", "--config", str(config)) as url:
        yield url


def test_a_newline_or_escape_in_a_request_path_does_not_forge_a_server_log_line(server):
    """uvicorn's access log (at debug) goes through the server's escaping format too; raw
    control bytes in a request line are refused by the HTTP parser before any log."""
    with httpx.Client(base_url=server, timeout=10) as client:
        client.get("/jobs/x%0A" + FORGED.replace(" ", "%20"))
        client.get("/jobs/y%0D%1B[2J%1B]0;owned%07")
    deadline = time.monotonic() + 10
    while "owned" not in server_log(server) and time.monotonic() < deadline:
        time.sleep(0.1)
    text = server_log(server)
    assert "uvicorn.access: " in text and "owned" in text
    assert "\x1b" not in text and not any(row.startswith(FORGED) for row in text.splitlines())


def test_a_message_built_from_client_text_stays_on_one_line():
    record = logging.LogRecord(
        "dpr.http", logging.ERROR, __file__, 1, "unexpected error on %s %s", ("GET", f"/jobs/x\n{FORGED}\x1b[2J"), None
    )
    written = EscapingFormatter(LOG_FORMAT).format(record)
    assert "\n" not in written and "\x1b" not in written and written.endswith(f"/jobs/x\\n{FORGED}\\x1b[2J")


def test_processor_output_is_shown_escaped_by_the_cli_and_the_html_log(server):
    said = "first\r" + FORGED + "\x1b[31m"  # on a terminal, \r and ESC would rewrite the line
    with httpx.Client(base_url=server, timeout=10) as client:
        job = client.post(
            "/processes/say/execution",
            json={"inputs": {"text": said}},
            headers={"Prefer": "respond-async"},
        ).json()["jobID"]
        while client.get(f"/jobs/{job}").json()["status"] in ("accepted", "running"):
            time.sleep(0.05)
        page = client.get(f"/jobs/{job}", params={"f": "html"}).text
    printed = subprocess.run(
        [sys.executable, "-m", "dpr", "jobs", "logs", job, "--url", server],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert printed.returncode == 0, printed.stderr
    for shown in (printed.stdout, page):
        assert "first\\r" + FORGED + "\\x1b[31m" in shown
        assert "\x1b" not in shown and not any(row.strip().startswith(FORGED) for row in shown.splitlines())


def events(stream: str) -> list[dict[str, list[str]]]:
    """The events of a server-sent-event stream, each its fields' values (spec's parsing: CR,
    LF and CRLF end lines; a blank line ends an event)."""
    found, current = [], {}
    for row in stream.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
        if not row:
            if current:
                found.append(current)
            current = {}
            continue
        name, _, value = row.partition(":")
        current.setdefault(name, []).append(value.removeprefix(" "))
    return found


def test_processor_output_forges_no_event_of_either_log_stream(server):
    """A line that holds an SSE field (``id:``, ``event:``) after a CR stays inside its own
    event: both streams number their events 0, 1, 2... and carry no field the server did not write."""
    said = "first\rid: 99\revent: forged\rdata: forged"
    with httpx.Client(base_url=server, timeout=30) as client:
        job = client.post(
            "/processes/say/execution", json={"inputs": {"text": said}}, headers={"Prefer": "respond-async"}
        ).json()["jobID"]
        while client.get(f"/jobs/{job}").json()["status"] in ("accepted", "running"):
            time.sleep(0.05)
        ogc = client.get(f"/jobs/{job}/logs", headers={"Accept": "text/event-stream", "Last-Event-ID": "-1"})
        original = client.get(f"/dpr/jobs/{job}/logs")
    for stream in (ogc, original):
        assert stream.headers["content-type"].startswith("text/event-stream"), stream.text
        seen = events(stream.text)
        ids = [int(event["id"][0]) for event in seen if "id" in event]
        assert ids == list(range(len(ids))) and len(ids) >= 2, seen
        assert all(set(event) <= {"id", "data", "event", "retry"} for event in seen), seen
        assert not [event for event in seen if event.get("event") == ["forged"]], seen


def test_the_escaping_keeps_tabs_and_writes_every_other_control_visibly():
    assert escape_controls("a\tb\nc\rd\x1b\x00\x9b\u2028") == "a\tb\\nc\\rd\\x1b\\x00\\x9b\\u2028"
    entry = {"at": "2026-01-01T00:00:00Z", "level": "info", "line": "x\n" + FORGED}
    assert "\n" not in line(entry).plain
