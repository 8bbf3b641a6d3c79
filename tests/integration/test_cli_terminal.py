"""``dpr`` in a pseudo-terminal: the live progress bar, colours, and ``NO_COLOR``."""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Iterator

import pexpect
import pytest

from tests.integration.test_cli import start_job, start_server, stop_server
from tests.waiting import scaled

pytestmark = pytest.mark.integration
COLOUR = re.compile(r"\x1b\[[0-9;]*3[0-9](;[0-9]+)*m|\x1b\[38;")
ESCAPE = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(tmp_path_factory.mktemp("server") / "serve.log")
    yield url
    stop_server(proc)


def terminal(*args: str, url: str, **env: str) -> pexpect.spawn:
    """``python -m dpr ARGS`` on a 120x30 pseudo-terminal."""
    environ = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    environ.update(DPR_URL=url, TERM="xterm-256color", COLUMNS="120", LINES="30", **env)
    return pexpect.spawn(
        sys.executable, ["-m", "dpr", *args], env=environ, dimensions=(30, 120), encoding="utf-8", timeout=scaled(60)
    )


def finish(screen: pexpect.spawn) -> tuple[list[str], int]:
    """The lines the terminal showed, each redraw of the bar one line, and the exit status."""
    screen.expect(pexpect.EOF)
    screen.close()
    text = ESCAPE.sub("", screen.before)
    return [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()], int(screen.exitstatus)


def test_watch_draws_a_progress_bar_with_the_message_then_the_outcome(server: str) -> None:
    job_id = start_job(server, duration=5)
    frames, status = finish(terminal("jobs", "watch", job_id, url=server))
    bars = [re.search(r"running ━*[╸╺]?━* +(\d+)% step (\d+) of 10 \d+:\d\d:\d\d", f) for f in frames]
    seen = [(int(m.group(1)), int(m.group(2))) for m in bars if m]
    assert len(seen) >= 3 and all(percent == step * 10 for percent, step in seen)
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert re.search(r"successful ━+ 100% Finished successfully", frames[-2])
    assert frames[-1].startswith(f"✔ job {job_id} successful in") and status == 0


def test_watch_of_a_failing_job_ends_with_the_reason_and_exit_1(server: str) -> None:
    job_id = start_job(server, duration=1, fail=True)
    frames, status = finish(terminal("jobs", "watch", job_id, url=server))
    assert frames[-1] == f"✘ job {job_id} failed: mockup failed on request at step 5 of 10" and status == 1


def test_execute_wait_draws_the_bar_and_prints_the_results(server: str) -> None:
    frames, status = finish(
        terminal("execute", "mockup", "-i", "duration=2", "-i", "product_type=S2MSI1C", "--wait", url=server)
    )
    assert any(re.search(r"running .* \d+% step \d+ of 10", f) for f in frames)
    assert any("successful in" in f for f in frames) and '"type": "S2MSI1C",' in frames and status == 0


def test_ctrl_c_stops_watching_with_130_and_the_job_goes_on(server: str) -> None:
    job_id = start_job(server, duration=60)
    screen = terminal("jobs", "watch", job_id, url=server)
    screen.expect(r"step \d+ of 10")
    screen.sendintr()
    frames, status = finish(screen)
    assert frames[-1] == f"error: interrupted; job {job_id} goes on (dpr jobs watch {job_id})" and status == 130
    frames, _ = finish(terminal("jobs", "dismiss", job_id, url=server))
    assert frames == [f"job {job_id} dismissed: Dismissed by request."]


def test_colours_on_a_terminal_and_none_with_no_color(server: str) -> None:
    job_id = start_job(server, duration=0)
    screen = terminal("jobs", "list", url=server)
    screen.expect(pexpect.EOF)
    assert COLOUR.search(screen.before) and job_id in screen.before
    plain = terminal("jobs", "list", url=server, NO_COLOR="1")
    plain.expect(pexpect.EOF)
    assert not COLOUR.search(plain.before) and job_id in plain.before
