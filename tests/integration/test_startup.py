"""``dpr serve`` on the embedded default answers before its cluster is up: jobs submitted then
wait ``accepted`` and run once it is, and readiness says why it is not ready meanwhile."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tests.integration.server import running_server
from tests.waiting import scaled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_jobs_accepted_while_the_embedded_cluster_starts_run_once_it_is_up(tmp_path):
    env = {"DPR_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"}
    with running_server("-c", "config/dpr.yaml", env=env) as url:
        ready = httpx.get(f"{url}/health/ready")  # right after /health first answered
        submitted = httpx.post(
            f"{url}/processes/echo/execution", json={"inputs": {"echo": "early"}}, headers={"Prefer": "respond-async"}
        )
        assert submitted.status_code == 201
        if ready.status_code == 503:  # the usual case: the cluster's workers take seconds to spawn
            assert ready.json()["reasons"] == [
                "the embedded Dask cluster is starting: jobs are accepted and wait until it is up"
            ]
        job = submitted.headers["Location"]
        wait_for(lambda: httpx.get(job).json()["status"] == "successful", 120, "the early job to run")
        assert httpx.get(f"{url}/health/ready").json() == {"status": "ready", "reasons": []}


# What serving on SQLite never needs before its port opens: the client commands' HTTP client and
# tables, Alembic on a database already migrated, PostgreSQL's driver, the HTML pages' Jinja2,
# distributed (imported by the cluster's build, behind the port). Each cost 0.07-0.3 s of start-up.
NOT_BEFORE_THE_PORT = ["httpx", "rich", "alembic", "psycopg", "jinja2", "distributed"]

LOADED_BY_A_START = """
import json, sys
import click
from dpr.entrypoints.cli.commands import cli
cli.get_command(click.Context(cli), "serve")
from dpr.entrypoints.cli.serve import _app, prepare_storage, resolve_settings
settings = resolve_settings(sys.argv[1])
_app(settings)
prepare_storage(settings)
print(json.dumps([name for name in json.loads(sys.argv[2]) if name in sys.modules]))
"""


def test_a_restart_on_sqlite_loads_nothing_the_port_does_not_need(tmp_path):
    config = str(Path("config/dpr.yaml").resolve())
    env = {**os.environ, "DPR_STORAGE_URL": f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"}
    argv = [sys.executable, "-c", LOADED_BY_A_START, config, json.dumps(NOT_BEFORE_THE_PORT)]
    first = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=scaled(120), check=True)
    assert "alembic" in json.loads(first.stdout)  # the first start migrates the new file
    restart = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=scaled(120), check=True)
    assert json.loads(restart.stdout) == []
