"""Starting a real ``dpr serve`` process on 127.0.0.1 for tests that talk HTTP to it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import httpx

from dpr.domain.job import Job
from tests.sql_stores import open_sql_store
from tests.waiting import scaled, wait_for

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60) -> None:
    """Return once something accepts connections on 127.0.0.1:``port``."""

    def listening() -> bool:
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_for(listening, timeout, f"something to listen on port {port}")


def python_path() -> str:
    """PYTHONPATH for a dpr process the tests start: this checkout (for ``tests.processors``)
    before what the tests were given (tests/conftest.py adds ``tests/site``)."""
    return os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))


@contextmanager
def running_server(*args: str, env: Mapping[str, str] | None = None, timeout: float = 300) -> Iterator[str]:
    """A ``dpr serve`` subprocess; yields its base URL once ``/health`` answers, stops it after.

    The server's output goes to a log file that is printed if it does not come up.
    """
    port = free_port()
    log_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"dpr-server-{port}.log"
    # A stop waits this long for jobs still running on an in-process or embedded executor.
    with started_server(
        "--host", "127.0.0.1", *args, env={"DPR_SERVER_GRACE_PERIOD": "5", **(env or {})}, log=log_path, port=port
    ) as (url, proc):
        wait_healthy(url, proc, log_path, timeout)
        yield url


@contextmanager
def started_server(
    *args: str, env: Mapping[str, str], log: Path, port: int | None = None
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``dpr serve ARGS --port P`` started (not yet waited for), its output appended to ``log``;
    yields its base URL and process, stopped (SIGTERM, then kill) after if still running."""
    port = port or free_port()
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "dpr", "serve", *args, "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONPATH": python_path(), **env},
            cwd=ROOT,
        )
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        if proc.poll() is None:
            stop(proc)


def submit_async(url: str, process: str, inputs: dict[str, object]) -> str:
    """The id of a job submitted asynchronously on a new connection (so a server with several
    HTTP workers spreads them)."""
    response = httpx.post(
        f"{url}/processes/{process}/execution", json={"inputs": inputs}, headers={"Prefer": "respond-async"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["jobID"])


def job_status(url: str, job_id: str) -> str:
    return str(httpx.get(f"{url}/jobs/{job_id}").json()["status"])


def stored_jobs(database: str, job_ids: list[str]) -> list[Job]:
    """The jobs as the database at ``database`` holds them (read directly, not through a server)."""

    async def read() -> list[Job]:
        repository, _ = await open_sql_store(database, connect_timeout=5, migrate=False)
        try:
            return [await repository.get(job_id) for job_id in job_ids]
        finally:
            await repository.close()

    return asyncio.run(read())


def new_api_key(env: Mapping[str, str], owner: str, *roles: str) -> str:
    """A key made with ``dpr keys create`` in the store ``env`` names (``DPR_STORAGE_URL``)."""
    done = subprocess.run(
        [sys.executable, "-m", "dpr", "keys", "create", "--owner", owner, *(f"--role={r}" for r in roles), "--json"],
        env={**os.environ, "PYTHONPATH": python_path(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise RuntimeError(f"dpr keys create exited {done.returncode}: {done.stderr}")
    return str(json.loads(done.stdout)["key"])


@contextmanager
def keyed_server(folder: Path, env: Mapping[str, str] | None = None) -> Iterator[tuple[str, str]]:
    """A ``dpr serve`` requiring API keys (jobs in a SQLite file of ``folder``, run in threads),
    and a key of owner ``client`` for it: yields ``(url, key)``."""
    full = {
        "DPR_STORAGE_URL": f"sqlite+aiosqlite:///{folder / 'dpr.db'}",
        "DPR_EXECUTOR_KIND": "fake",
        "DPR_AUTH_METHODS": "api_key",
        **(env or {}),
    }
    key = new_api_key(full, "client")
    with running_server(env=full) as url:
        yield url, key


def wait_healthy(url: str, proc: subprocess.Popen[bytes], log_path: Path, timeout: float = 300) -> None:
    """Return once the server at ``url`` answers ``/health``; raise with its log if it exits
    or does not answer within the (scaled) bound."""

    def healthy() -> bool:
        if proc.poll() is not None:
            raise RuntimeError(f"dpr serve exited with {proc.returncode}:\n{log_path.read_text()}")
        return httpx.get(f"{url}/health", timeout=scaled(5)).status_code == 200

    try:
        wait_for(healthy, timeout, f"dpr serve to answer {url}/health", ignoring=(httpx.TransportError,))
    except TimeoutError as e:
        raise RuntimeError(f"{e}:\n{log_path.read_text()}") from None


def stop(proc: subprocess.Popen[bytes], timeout: float = 30) -> None:
    """Stop a server the way Ctrl-C would (SIGTERM), and kill it if it does not end in time."""
    proc.terminate()
    try:
        proc.wait(timeout=scaled(timeout))
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
