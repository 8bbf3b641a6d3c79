"""Schemathesis against a real ``dpr serve`` process and the OpenAPI 3.0 document it serves.

Every operation gets up to ``MAX_EXAMPLES`` generated requests in the examples, coverage and
fuzzing phases, valid and invalid; every answer must not be a server error and must have a
documented status code, content type, headers and schema.

It runs twice: against an anonymous server, and against one requiring API keys with a key sent
in every request, so the authenticated routes (and the 401s of requests schemathesis strips of
it) are fuzzed as well.

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

from tests.integration.server import keyed_server, running_server

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


@pytest.fixture(scope="module")
def keyed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with keyed_server(tmp_path_factory.mktemp("schemathesis-keyed"), env=SERVER_ENV) as (url, key):
        yield url, key


def test_the_server_does_what_its_openapi_document_says(server: str, tmp_path: Path) -> None:
    fuzz(server, tmp_path)


def test_a_server_requiring_api_keys_does_what_its_openapi_document_says(
    keyed: tuple[str, str], tmp_path: Path
) -> None:
    url, key = keyed
    fuzz(url, tmp_path, "--header", f"x-api-key: {key}")


def fuzz(server: str, tmp_path: Path, *extra: str) -> None:
    command = [
        sys.executable, "-m", "schemathesis.cli", "run", f"{server}/api", *extra,
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
