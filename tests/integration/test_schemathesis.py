"""Schemathesis against a real ``dpr serve`` process and the OpenAPI 3.0 document it serves.

Every operation gets up to ``MAX_EXAMPLES`` generated requests in the examples, coverage and
fuzzing phases, valid and invalid; every answer must not be a server error and must have a
documented status code, content type, headers and schema.

The run goes through ``schemathesis run`` rather than its pytest plugin: the plugin's lazy
``from_fixture`` loader (the only one that can wait for a server started by a fixture) reads
``request.node._nodeid``, which pytest 9 no longer has.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.server import running_server

pytestmark = [pytest.mark.integration, pytest.mark.slow, pytest.mark.timeout(600)]

MAX_EXAMPLES = 30
CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_headers_conformance",
        "response_schema_conformance",
    ]
)
SERVER_ENV = {
    "DPR_LIMITS_SYNC_TIMEOUT": "1",  # a generated synchronous mockup run answers 201 after 1 s, not 5 min
    "DPR_EXECUTOR_WORKERS": "4",
}


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    with running_server("--ephemeral", env=SERVER_ENV) as url:
        yield url


def test_the_server_does_what_its_openapi_document_says(server: str, tmp_path: Path) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server}/api",
        "--checks", CHECKS,
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", "20260101",
        "--request-timeout", "10",  # also bounds how long an endless log stream is read
        "--workers", "4",
        "--suppress-health-check", "all",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    run = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=540, env=_quiet_env())
    report = run.stdout + run.stderr
    assert run.returncode == 0, report
    assert "No issues found" in report or " passed" in report, report


def _quiet_env() -> dict[str, str]:
    import os

    return {**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_TELEMETRY": "false"}
