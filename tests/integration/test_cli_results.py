"""``dpr execute`` and ``dpr jobs results`` show several outputs readably, one by one; ``dpr
processes describe`` shows a DPR process's task table. Against real ``dpr serve`` processes."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from dpr.domain.process import OutputDescription, ProcessDescription
from dpr.entrypoints.cli import results
from dpr.entrypoints.http.raw import raw_results
from tests.integration.server import running_server
from tests.integration.test_cli import UUID, dpr, ok, start_server, stop_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(tmp_path_factory.mktemp("server") / "serve.log")
    yield url
    stop_server(proc)


def test_waiting_for_several_outputs_prints_each_by_name_and_names_the_job_at_the_start(server: str) -> None:
    result = dpr("execute", "echo", "-i", "echo=hi", "-i", "mixed=3", "--wait", url=server)
    out = ok(result)
    first = result.stderr.splitlines()[0]
    job_id = re.search(r"job (\S+) \w+: watching it", first).group(1)
    assert UUID.match(job_id) and "Ctrl-C" in first
    assert re.search(r"^echo: hi$", out, re.M) and re.search(r"^mixed: 3$", out, re.M)
    inputs = out[out.index("inputs:\n") + len("inputs:\n") :]
    assert json.loads(inputs[: inputs.index("\n}") + 2]) == {"echo": "hi", "mixed": 3}
    assert "--" not in out and "Content-Type" not in out  # no raw MIME


def test_a_synchronous_multi_output_result_is_readable_through_a_pipe_too(server: str) -> None:
    out = ok(dpr("execute", "echo", "-i", "echo=two\nlines", url=server))
    assert out.startswith("echo:\ntwo\nlines\ninputs:\n{")


def test_o_still_writes_the_body_as_sent_and_json_prints_the_results_document(server: str, tmp_path: Path) -> None:
    ok(dpr("execute", "echo", "-i", "echo=hi", "-o", "out.mime", url=server, cwd=tmp_path))
    assert b"Content-ID: <echo>" in (tmp_path / "out.mime").read_bytes()
    assert json.loads(ok(dpr("execute", "echo", "-i", "echo=hi", "--json", url=server)))["echo"] == "hi"


def test_binary_outputs_are_shown_as_their_size_with_a_hint_to_use_o() -> None:
    process = ProcessDescription(
        id="p",
        outputs={
            "picture": OutputDescription(schema={"type": "string", "contentMediaType": "image/png"}),
            "note": OutputDescription(schema={"type": "string"}),
        },
    )
    body = raw_results({"picture": "\x89PNG\x00\x01", "note": "fine"}, process, boundary="dpr-test")
    console = Console(record=True, width=120)
    results.show(console, results.parts(body.content, body.media_type))
    text = console.export_text()
    assert "picture: 7 bytes (image/png); write the results to a file with -o FILE" in text
    assert "note: fine" in text
    other = raw_results({"a": base64.b64encode(b"\x00\xff").decode(), "b": 1}, None, boundary="dpr-test")
    assert [p.name for p in results.parts(other.content, other.media_type)] == ["a", "b"]


def test_describing_an_eopf_process_shows_its_task_table() -> None:
    env = {"DPR_STORAGE_URL": "memory://", "DPR_EXECUTOR_KIND": "fake"}
    with running_server("--config", "config/dpr-processors.yaml", env=env) as url:
        out = ok(dpr("processes", "describe", "s1_l0", url=url))
    assert "TASK TABLE" in out and "execution: async, dismiss" in out
    assert "tasktable" in out[out.index("TASK TABLE") :]
