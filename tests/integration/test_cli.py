"""The ``dpr`` command line, run as a subprocess against a real ``dpr serve --ephemeral``.

Exit codes under test: 0 success, 1 job failed or dismissed, 2 usage, 3 unreachable or server
error, 4 request refused (docs/cli.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import click
import httpx
import pytest
from click.testing import CliRunner

from dpr.entrypoints.cli import cli
from dpr.entrypoints.cli.client import DprClient
from tests.integration.server import free_port, running_server, stop, wait_healthy
from tests.waiting import scaled

pytestmark = pytest.mark.integration
UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def start_server(log: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``dpr serve --ephemeral`` on a free port, once ``/health`` answers."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dpr", "serve", "--ephemeral", "--port", str(port)], stdout=sink, stderr=sink
        )
    try:
        wait_healthy(url, proc, log)
    except BaseException:
        stop_server(proc)
        raise
    return proc, url


def stop_server(proc: subprocess.Popen[bytes]) -> None:
    stop(proc)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    proc, url = start_server(tmp_path_factory.mktemp("server") / "serve.log")
    yield url
    stop_server(proc)


def dpr(
    *args: str,
    url: str | None = None,
    stdin: str | None = None,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """``python -m dpr ARGS`` with DPR_URL set to ``url``, as a pipe (no terminal)."""
    environ = {**os.environ, "NO_COLOR": "1", **({"DPR_URL": url} if url else {}), **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "dpr", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=cwd,
        env=environ,
        timeout=scaled(120),
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, f"exit {result.returncode}: {result.stderr}"
    return result.stdout


def one_line_error(result: subprocess.CompletedProcess[str], code: int) -> str:
    """The error of a failed command: the exit code, one ``error:`` line, no traceback."""
    assert result.returncode == code, f"exit {result.returncode}, stdout {result.stdout!r}, stderr {result.stderr!r}"
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def echoed(result: subprocess.CompletedProcess[str]) -> dict[str, object]:
    """The inputs the echo process received, from its results document (value or qualified value)."""
    output = json.loads(ok(result))["inputs"]
    return output["value"] if isinstance(output, dict) and "mediaType" in output else output


def start_job(url: str, **inputs: object) -> str:
    """A mockup job submitted straight over HTTP (faster than a CLI process: nothing is missed)."""
    response = httpx.post(
        f"{url}/processes/mockup/execution", json={"inputs": inputs}, headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["jobID"])


def submit(url: str, *inputs: str) -> str:
    job_id = ok(dpr("execute", "mockup", "--async", *inputs, url=url)).strip()
    assert UUID.match(job_id)
    return job_id


# --- help, version, python -m -------------------------------------------------------------


def command_paths(command: click.Command = cli, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command's path, those the root group loads when asked for included."""
    paths = [prefix]
    if isinstance(command, click.Group):
        ctx = click.Context(command)
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            assert sub is not None, name
            paths += command_paths(sub, (*prefix, name))
    return paths


@pytest.mark.parametrize("path", command_paths(), ids=lambda p: " ".join(p) or "dpr")
def test_every_command_has_help(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(cli, [*path, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage: " in result.output


def test_dpr_help_documents_exit_codes_and_completion() -> None:
    out = ok(dpr("--help"))
    for text in (
        "processes",
        "execute",
        "jobs",
        "serve",
        "config",
        "db",
        "Exit codes",
        "_DPR_COMPLETE=bash_source dpr",
    ):
        assert text in out


def test_python_dash_m_dpr_and_the_cli_package_both_run() -> None:
    assert "dpr, version" in ok(dpr("--version"))
    result = subprocess.run(
        [sys.executable, "-m", "dpr.entrypoints.cli", "--version"], capture_output=True, text=True, timeout=scaled(60)
    )
    assert "dpr, version" in ok(result)


def complete(words: str, url: str) -> list[str]:
    """What bash completion offers after ``words`` (the last word being completed)."""
    env = {
        "_DPR_COMPLETE": "bash_complete",
        "COMP_WORDS": words,
        "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
    }
    return ok(dpr(url=url, env=env)).splitlines()


def test_shell_completion_offers_commands_and_the_servers_ids(server: str) -> None:
    assert "plain,processes" in complete("dpr pro", server)
    assert complete("dpr processes describe m", server) == ["plain,mockup"]
    job_id = start_job(server, duration=0)
    assert f"plain,{job_id}" in complete(f"dpr jobs show {job_id[:6]}", server)
    assert complete("dpr processes describe m", f"http://127.0.0.1:{free_port()}") in ([], [""])


# --- processes -----------------------------------------------------------------------------


def test_processes_list_shows_a_table_ids_and_json(server: str) -> None:
    table = ok(dpr("processes", "list", url=server))
    assert re.search(r"^mockup\s+1\.0\.0\s+DPR mockup processor", table, re.M)
    assert ok(dpr("processes", "list", "-q", url=server)).split() == ["echo", "mockup"]
    doc = json.loads(ok(dpr("--json", "processes", "list", url=server)))
    assert [p["id"] for p in doc["processes"]] == ["echo", "mockup"]


def test_processes_describe_shows_inputs_outputs_and_execution_modes(server: str) -> None:
    out = ok(dpr("processes", "describe", "mockup", url=server))
    assert re.search(r"^duration\s+number 0\.\.86400\s+no\s+5\s+0\.\.1\s+Seconds", out, re.M)
    assert re.search(r"^fail\s+boolean\s+no\s+false\s+0\.\.1", out, re.M)
    assert re.search(r"^products\s+array<object>", out, re.M)
    assert "execution: async, dismiss" in out  # long-running: async-only in the built-in catalogue
    echo = ok(dpr("processes", "describe", "echo", url=server))
    assert re.search(r"^echo\s+string\s+yes\s+1\.\.1", echo, re.M)


def test_processes_describe_json_is_the_servers_document(server: str) -> None:
    printed = json.loads(ok(dpr("processes", "describe", "echo", "--json", url=server)))
    assert printed == httpx.get(f"{server}/processes/echo").json()


def test_an_unknown_process_is_a_refused_request(server: str) -> None:
    line = one_line_error(dpr("processes", "describe", "nope", url=server), 4)
    assert "no process with id 'nope'" in line
    assert "no process with id 'nope'" in one_line_error(dpr("execute", "nope", url=server), 4)


# --- errors without a server, usage errors --------------------------------------------------


def test_no_server_is_exit_3_with_one_line_and_no_traceback() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    line = one_line_error(dpr("jobs", "list", url=url), 3)
    assert (
        line == f"error: cannot reach dpr at {url} (connection refused). Is the server running? Set --url or DPR_URL."
    )
    assert one_line_error(dpr("--url", url, "processes", "list"), 3).startswith("error: cannot reach dpr")


def test_debug_adds_the_traceback_and_the_http_exchange(server: str) -> None:
    result = dpr("--debug", "jobs", "show", "nope", url=server)
    assert result.returncode == 4
    assert "Traceback" in result.stderr and "> GET " in result.stderr and "< 404 Not Found" in result.stderr


def test_url_on_the_command_wins_over_the_group_and_env(server: str) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    assert "mockup" in ok(dpr("--url", dead, "processes", "list", "--url", server, url=dead))


def test_usage_errors_exit_2() -> None:
    assert dpr("jobs", "list", "--status", "lost").returncode == 2
    assert "'1x'" in dpr("jobs", "list", "--since", "1x").stderr
    assert one_line_error(dpr("--url", "ftp://x", "jobs", "list"), 2).startswith("error: invalid server URL")


# --- execute -------------------------------------------------------------------------------


def test_execute_is_synchronous_by_default_and_prints_the_results(server: str) -> None:
    products = json.loads(ok(dpr("execute", "mockup", "-i", "duration=0.2", "-i", "product_type=S2MSI1C", url=server)))
    assert products[0]["type"] == "S2MSI1C"


def test_execute_json_prints_the_results_document(server: str) -> None:
    doc = json.loads(ok(dpr("execute", "mockup", "-i", "duration=0", "--json", url=server)))
    assert doc["products"][0]["type"] == "S1SEWRAW"


def test_input_values_are_json_when_they_parse_else_text_and_repeats_make_arrays(server: str) -> None:
    args = [
        "-i",
        "echo=hello",
        "-i",
        "number=2.5",
        "-i",
        "array=1",
        "-i",
        "array=2",
        "-i",
        'object={"a": [1]}',
        "-i",
        "mixed=007x",
    ]
    inputs = echoed(dpr("execute", "echo", *args, "--json", url=server))
    assert inputs == {"echo": "hello", "number": 2.5, "array": [1, 2], "object": {"a": [1]}, "mixed": "007x"}


def test_a_plain_string_input_keeps_numbers_as_text(server: str) -> None:
    inputs = echoed(dpr("execute", "echo", "-i", "echo=123", "--json", url=server))
    assert inputs == {"echo": "123"}


def test_input_values_read_from_files_with_at(server: str, tmp_path: Path) -> None:
    (tmp_path / "message.txt").write_text("hello from a file")
    (tmp_path / "object.json").write_text('{"k": [1, 2]}')
    args = ["-i", "echo=@message.txt", "-i", "object=@object.json", "-i", "mixed=@@at"]
    inputs = echoed(dpr("execute", "echo", *args, "--json", url=server, cwd=tmp_path))
    assert inputs == {"echo": "hello from a file", "object": {"k": [1, 2]}, "mixed": "@at"}
    line = one_line_error(dpr("execute", "echo", "-i", "echo=@missing.txt", url=server, cwd=tmp_path), 2)
    assert "missing.txt" in line


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("inputs.json", '{"echo": "from json", "array": [3, 4]}'),
        ("request.yaml", "inputs:\n  echo: from json\n  array: [3, 4]\nresponse: document\n"),
        ("inputs.yml", "echo: from json\narray:\n  - 3\n  - 4\n"),
    ],
)
def test_input_file_holds_inputs_or_a_request_in_json_or_yaml(
    server: str, tmp_path: Path, name: str, text: str
) -> None:
    (tmp_path / name).write_text(text)
    inputs = echoed(dpr("execute", "echo", "-f", name, "-i", "number=1", "--json", url=server, cwd=tmp_path))
    assert inputs == {"echo": "from json", "array": [3, 4], "number": 1}


def test_input_file_from_stdin(server: str) -> None:
    doc = json.loads(ok(dpr("execute", "echo", "--input-file", "-", "--json", url=server, stdin="echo: piped\n")))
    assert doc["echo"] == "piped"


def test_an_invalid_input_value_shows_the_servers_detail_and_exits_4(server: str) -> None:
    line = one_line_error(dpr("execute", "mockup", "-i", "duration=x", url=server), 4)
    assert line == "error: input 'duration': 'x' is not of type 'number' (HTTP 400)"


def test_a_malformed_input_option_is_a_usage_error(server: str) -> None:
    result = dpr("execute", "mockup", "-i", "duration", url=server)
    assert result.returncode == 2 and "NAME=VALUE" in result.stderr


def test_execute_async_prints_the_job_id_only(server: str) -> None:
    job_id = submit(server, "-i", "duration=0")
    assert httpx.get(f"{server}/jobs/{job_id}").json()["processID"] == "mockup"
    doc = json.loads(ok(dpr("execute", "mockup", "--async", "--json", url=server)))
    assert doc["status"] == "accepted" and UUID.match(doc["jobID"])


def test_execute_wait_watches_the_job_then_prints_the_results(server: str, tmp_path: Path) -> None:
    result = dpr(
        "execute", "mockup", "-i", "duration=0.5", "--async", "--wait", "-o", "out.json", url=server, cwd=tmp_path
    )
    ok(result)
    assert "successful" in result.stderr and "\x1b" not in result.stderr
    assert json.loads((tmp_path / "out.json").read_text())[0]["type"] == "S1SEWRAW"


def test_a_failing_job_exits_1_when_the_server_makes_it_a_job_and_with_wait(server: str) -> None:
    plain = dpr("execute", "mockup", "-i", "duration=0", "-i", "fail=true", url=server)
    assert plain.returncode == 1 and plain.stdout == ""
    assert re.search(r"runs it as job \S+ \(asynchronous only", plain.stderr)
    assert re.search(r"job \S+ failed: mockup failed on request", plain.stderr)
    waited = dpr("execute", "mockup", "-i", "duration=0", "-i", "fail=true", "--wait", url=server)
    assert waited.returncode == 1 and waited.stdout == ""
    assert re.search(r"job \S+ failed: mockup failed on request", waited.stderr)


# --- jobs ----------------------------------------------------------------------------------


def test_jobs_list_filters_by_status_process_and_since(server: str) -> None:
    failed = start_job(server, duration=0, fail=True)
    ok(dpr("execute", "echo", "-i", "echo=x", url=server))
    dpr("jobs", "watch", failed, url=server)
    listed = json.loads(ok(dpr("jobs", "list", "--status", "failed", "--json", url=server)))
    assert failed in [j["jobID"] for j in listed["jobs"]] and {j["status"] for j in listed["jobs"]} == {"failed"}
    echoes = json.loads(ok(dpr("jobs", "list", "-p", "echo", "--since", "10m", "--json", url=server)))["jobs"]
    assert echoes and {j["processID"] for j in echoes} == {"echo"}
    future = json.loads(ok(dpr("jobs", "list", "--since", "2999-01-01T00:00:00Z", "--json", url=server)))
    assert future["jobs"] == []
    assert failed in ok(dpr("jobs", "list", "-q", "-s", "failed", url=server)).split()


def test_jobs_list_limit_and_the_table(server: str) -> None:
    for _ in range(3):
        start_job(server, duration=0)
    result = dpr("jobs", "list", "--limit", "2", url=server)
    rows = ok(result).strip().splitlines()
    assert rows[0].split()[:3] == ["JOB", "PROCESS", "STATUS"] and len(rows) == 3
    assert "raise --limit" in result.stderr
    assert json.loads(ok(dpr("jobs", "list", "-n", "2", "--json", url=server)))["numberReturned"] == 2


def test_the_client_follows_next_links_up_to_the_limit(server: str) -> None:
    for _ in range(3):
        start_job(server, duration=0)
    client = DprClient(server)
    try:
        doc = client.collect("/jobs", "jobs", {"limit": 1}, limit=3)
    finally:
        client.close()
    assert len(doc["jobs"]) == 3 == len({j["jobID"] for j in doc["jobs"]})


def test_jobs_show_prints_the_status_and_json(server: str) -> None:
    job_id = start_job(server, duration=0)
    ok(dpr("jobs", "watch", job_id, url=server))
    assert re.search(r"^status\s+successful", ok(dpr("jobs", "show", job_id, url=server)), re.M)
    assert json.loads(ok(dpr("jobs", "show", job_id, "--json", url=server)))["status"] == "successful"


def test_jobs_watch_ends_0_on_success_with_plain_lines_when_piped(server: str) -> None:
    job_id = start_job(server, duration=5)
    out = ok(dpr("jobs", "watch", job_id, url=server))
    assert re.search(r"running\s+\d+% step \d+ of 10", out)
    assert out.strip().splitlines()[-1].startswith(f"✔ job {job_id} successful in")
    assert "\x1b" not in out


def test_jobs_watch_ends_1_on_failure(server: str) -> None:
    job_id = start_job(server, duration=0.3, fail=True)
    result = dpr("jobs", "watch", job_id, url=server)
    assert result.returncode == 1
    assert f"✘ job {job_id} failed: mockup failed on request" in result.stdout


def test_jobs_watch_ends_1_when_the_job_is_dismissed_from_elsewhere(server: str) -> None:
    job_id = start_job(server, duration=30)
    environ = {**os.environ, "DPR_URL": server, "NO_COLOR": "1"}
    watcher = subprocess.Popen(
        [sys.executable, "-m", "dpr", "jobs", "watch", job_id, "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert watcher.stdout is not None
    first = json.loads(watcher.stdout.readline())  # it watches: a first update is out
    assert json.loads(ok(dpr("jobs", "dismiss", job_id, "--json", url=server)))["status"] == "dismissed"
    out, err = watcher.communicate(timeout=scaled(60))
    assert watcher.returncode == 1, err
    updates = [first, *(json.loads(line) for line in out.splitlines())]
    assert updates[-1]["status"] == "dismissed" and updates[0]["jobID"] == job_id


def test_jobs_results_to_a_file_and_of_failed_or_running_jobs(server: str, tmp_path: Path) -> None:
    done = start_job(server, duration=0, product_type="S3OLCI")
    ok(dpr("jobs", "watch", done, url=server))
    ok(dpr("jobs", "results", done, "-o", str(tmp_path / "r.json"), url=server))
    assert json.loads((tmp_path / "r.json").read_text())[0]["type"] == "S3OLCI"
    assert json.loads(ok(dpr("jobs", "results", done, url=server)))[0]["type"] == "S3OLCI"
    failed = start_job(server, duration=0, fail=True)
    dpr("jobs", "watch", failed, url=server)
    assert "mockup failed on request" in one_line_error(dpr("jobs", "results", failed, url=server), 1)
    running = start_job(server, duration=30)
    assert "not ready" in one_line_error(dpr("jobs", "results", running, url=server), 4)
    ok(dpr("jobs", "dismiss", running, url=server))


def test_jobs_dismiss_cancels_then_removes(server: str) -> None:
    job_id = start_job(server, duration=30)
    assert f"job {job_id} dismissed" in ok(dpr("jobs", "dismiss", job_id, url=server))
    assert httpx.get(f"{server}/jobs/{job_id}").json()["status"] == "dismissed"
    ok(dpr("jobs", "dismiss", job_id, url=server))  # repeated: nothing changes
    assert httpx.get(f"{server}/jobs/{job_id}").json()["status"] == "dismissed"
    ok(dpr("jobs", "dismiss", job_id, "--purge", url=server))
    assert f"no job with id '{job_id}'" in one_line_error(dpr("jobs", "show", job_id, url=server), 4)


def test_jobs_logs_prints_the_lines_or_says_the_server_has_none(server: str) -> None:
    job_id = start_job(server, duration=0.3)
    ok(dpr("jobs", "watch", job_id, url=server))
    if httpx.get(f"{server}/jobs/{job_id}/logs").status_code == 404:  # the route is being added
        assert "does not offer job logs" in one_line_error(dpr("jobs", "logs", job_id, url=server), 4)
        return
    assert re.search(r"INFO\s+mockup: step 10/10 done", ok(dpr("jobs", "logs", job_id, url=server)))
    entries = [json.loads(line) for line in ok(dpr("jobs", "logs", job_id, "--json", url=server)).splitlines()]
    assert {"seq", "at", "level", "line"} <= set(entries[0])
    followed = start_job(server, duration=2)
    assert "step 10/10 done" in ok(dpr("jobs", "logs", followed, "--follow", url=server))


# --- config check, db upgrade --------------------------------------------------------------


def test_config_check_prints_settings_without_secrets_and_connections(tmp_path: Path) -> None:
    config = tmp_path / "dpr.yaml"
    config.write_text(
        "storage:\n  url: memory://\nexecutor:\n  kind: fake\n  address: tcp://ops:s3cret@scheduler:8786\n"
        "limits:\n  max_active: 4\n"
    )
    out = ok(dpr("config", "check", "-c", str(config)))
    assert "max_active: 4" in out and "configuration OK" in out and "storage: in memory" in out
    assert "s3cret" not in out and "ops:***@" in out
    report = json.loads(ok(dpr("config", "check", "--config", str(config), "--json")))
    assert report["settings"]["limits"]["max_active"] == 4
    assert set(report["connections"]) == {"storage", "executor", "processes", "auth"}
    assert report["connections"]["processes"]["mockup"].endswith(":MockupProcessor")
    assert "anonymous" in report["connections"]["auth"] and "auth: anonymous (no authentication" in out


def test_config_check_shows_the_auth_mode_with_the_issuer_password_hidden(tmp_path: Path) -> None:
    config = tmp_path / "dpr.yaml"
    config.write_text(
        "storage:\n  url: memory://\nexecutor:\n  kind: fake\nauth:\n  methods: [api_key, oidc]\n"
        "  oidc:\n    issuer: https://proxy:pr0xy-pass@sso.example/realms/rs\n"
    )
    env = {"DPR_AUTH_OIDC_AUDIENCE": "rs-dpr", "DPR_AUTH_API_KEY_HEADER": "x-rs-key"}
    out = ok(dpr("config", "check", "-c", str(config), env=env))
    report = json.loads(ok(dpr("config", "check", "-c", str(config), "--json", env=env)))
    assert "pr0xy-pass" not in out and "pr0xy-pass" not in json.dumps(report)
    auth = report["connections"]["auth"]
    assert set(auth) == {"api_key", "oidc"} and "header x-rs-key" in auth["api_key"]
    assert "issuer https://proxy:***@sso.example/realms/rs" in auth["oidc"] and "audience rs-dpr" in auth["oidc"]
    assert (
        "realm_access.roles" in auth["oidc"] and "oidc (Authorization: Bearer JWTs of issuer https://proxy:***@" in out
    )
    assert report["settings"]["auth"]["oidc"]["issuer"] == "https://proxy:***@sso.example/realms/rs"
    no_audience = dpr("config", "check", "-c", str(config))
    assert no_audience.returncode == 2 and "auth.oidc.audience" in no_audience.stderr


def test_config_check_of_a_bad_file_exits_2_naming_the_key(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("server:\n  port: 8000\n  colour: red\n")
    assert (
        one_line_error(dpr("config", "check", "-c", str(config)), 2) == f"error: {config}: unknown key 'server.colour'"
    )
    assert "cannot read" in one_line_error(dpr("config", "check", "-c", str(tmp_path / "none.yaml")), 2)


def test_serve_with_a_bad_configuration_exits_2_in_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("storage:\n  pool: 3\n")
    assert one_line_error(dpr("serve", "-c", str(config)), 2) == f"error: {config}: unknown key 'storage.pool'"


def test_db_upgrade_of_memory_storage_has_nothing_to_migrate() -> None:
    assert "nothing to migrate" in one_line_error(dpr("db", "upgrade", env={"DPR_STORAGE_URL": "memory://"}), 2)


def test_db_upgrade_migrates_a_sqlite_database(tmp_path: Path) -> None:
    pytest.importorskip("dpr.adapters.sql.migrate", reason="the SQL adapter is being written")
    url = f"sqlite+aiosqlite:///{tmp_path / 'dpr.db'}"
    assert "up to date" in ok(dpr("db", "upgrade", "--url", url))
    assert "up to date" in ok(dpr("db", "upgrade", "--url", url))


# --- keys ------------------------------------------------------------------------------------


def test_keys_create_prints_the_key_once_and_list_and_revoke_never_show_it(tmp_path: Path) -> None:
    database = tmp_path / "dpr.db"
    env = {"DPR_STORAGE_URL": f"sqlite+aiosqlite:///{database}"}
    made = json.loads(
        ok(dpr("keys", "create", "--owner", "alice", "--role", "admin", "--expires", "30d", "--json", env=env))
    )
    assert {"id", "owner", "key"} <= set(made) and made["owner"] == "alice" and made["roles"] == ["admin"]
    plain = ok(dpr("keys", "create", "--owner", "bob", env=env)).strip()
    assert plain.startswith("dpr_") and len(plain) >= 47
    listed = ok(dpr("keys", "list", "--json", env=env))
    assert [k["owner"] for k in json.loads(listed)] == ["alice", "bob"]
    assert "revoked" in ok(dpr("keys", "revoke", made["id"], env=env))
    assert json.loads(ok(dpr("keys", "list", "--json", env=env)))[0]["revoked"]
    for secret in (made["key"], plain):
        assert secret not in listed and secret.encode() not in database.read_bytes()
    assert "no API key with id 'nope'" in one_line_error(dpr("keys", "revoke", "nope", env=env), 4)


def test_keys_on_memory_storage_are_refused_since_they_would_vanish() -> None:
    assert "would vanish" in one_line_error(dpr("keys", "list", env={"DPR_STORAGE_URL": "memory://"}), 2)


def test_serve_refuses_anonymous_access_beyond_loopback_unless_allowed() -> None:
    error = one_line_error(dpr("serve", "--ephemeral", "--host", "0.0.0.0", env={"DPR_AUTH_METHODS": ""}), 2)
    assert "refusing anonymous access on 0.0.0.0" in error and "--allow-anonymous" in error


def test_client_commands_send_the_api_key_and_a_refusal_exits_4_with_the_servers_message(tmp_path: Path) -> None:
    env = {
        "DPR_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dpr.db'}",
        "DPR_EXECUTOR_KIND": "fake",
        "DPR_AUTH_METHODS": "api_key",
    }
    key = json.loads(ok(dpr("keys", "create", "--owner", "alice", "--json", env=env)))["key"]
    with running_server(env=env) as server:
        refused = one_line_error(dpr("jobs", "list", url=server, env={"DPR_API_KEY": ""}), 4)
        assert "authentication required" in refused and "401" in refused
        assert "unknown API key" in one_line_error(dpr("--api-key", "dpr_wrong", "jobs", "list", url=server), 4)
        echoed_job = ok(dpr("execute", "echo", "-i", "echo=hi", url=server, env={"DPR_API_KEY": key}))
        assert "hi" in echoed_job
        assert "echo" in ok(dpr("jobs", "list", url=server, env={"DPR_API_KEY": key}))
        assert "echo" in ok(dpr("--token", key, "jobs", "list", url=server, env={"DPR_API_KEY": ""}))
        traced = dpr("--debug", "jobs", "list", url=server, env={"DPR_API_KEY": key})
        assert traced.returncode == 0 and "x-api-key: ***" in traced.stderr and key not in traced.stderr
