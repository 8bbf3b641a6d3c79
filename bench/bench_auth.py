"""What authentication costs: ``GET /jobs/{id}`` anonymous against the same with an API key.

Three real ``dpr serve`` processes (executor ``fake``, one HTTP worker each) on one PostgreSQL
database, measured over loopback with wrk (``http_load.py``), round by round in turn so each
sees the same machine load:

- **anonymous**: ``auth.methods`` empty;
- **API key**: ``auth.methods: [api_key]``, the key in ``x-api-key``, its record cached for
  ``auth.key_cache`` seconds (the default, 2 s): a revocation reaches this instance within it;
- **API key, no cache**: the same with ``auth.key_cache: 0``, one digest lookup in the database
  per request.

The job read is owned by the key's owner (submitted with the key). Printed: requests per second
(median of the rounds), p50 and p99 latency, and the cost per request relative to anonymous
(``rps_anonymous / rps - 1``); then the server's own CPU time per request (user + system time
of the ``dpr serve`` process over a run, over the requests it answered), which a machine shared
with other work disturbs far less than throughput does (it leaves out the database's side).
Needs PostgreSQL at ``--admin-url`` and wrk (``apt-get install -y wrk``); the database is
dropped at the end.

Run: ``.venv/bin/python bench/bench_auth.py [--rounds 5] [--seconds 5] [--connections 4]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import create_database, drop_database
from http_load import Load, require_wrk, run_wrk
from machine import cpu_model, load_average
from store_data import psycopg_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from sqlalchemy.engine import make_url

from tests.integration.server import python_path, running_server

SIDES = {
    "anonymous": {"DPR_AUTH_METHODS": ""},
    "API key (cached 2 s)": {"DPR_AUTH_METHODS": "api_key"},
    "API key, no cache": {"DPR_AUTH_METHODS": "api_key", "DPR_AUTH_KEY_CACHE": "0"},
}


def new_key(url: str) -> str:
    """A key of owner ``bench`` made with ``dpr keys create`` on the database at ``url``."""
    env = {**os.environ, "PYTHONPATH": python_path(), "DPR_STORAGE_URL": url, "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "dpr", "keys", "create", "--owner", "bench", "--json"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    return str(json.loads(done.stdout)["key"])


def submit(base: str, key: str) -> str:
    response = httpx.post(
        f"{base}/processes/echo/execution",
        json={"inputs": {"echo": "bench"}},
        headers={"x-api-key": key, "Prefer": "respond-async"},
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["jobID"])


def server_process(base: str) -> psutil.Process:
    """The process listening on the port of ``base``."""
    port = int(base.rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port and conn.pid:
            return psutil.Process(conn.pid)
    raise SystemExit(f"no process listens on port {port}")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def measure(
    bases: dict[str, str], key: str, args: argparse.Namespace
) -> tuple[dict[str, list[Load]], dict[str, list[float]]]:
    job = submit(bases["API key (cached 2 s)"], key)
    path = [f"/jobs/{job}"]
    headers = {name: ({} if name == "anonymous" else {"x-api-key": key}) for name in bases}
    for name, base in bases.items():  # warm up, and check every side answers 200
        warm = run_wrk(base, path, seconds=1, connections=args.connections, headers=headers[name])
        if warm.bad_status:
            raise SystemExit(f"{name}: {warm.bad_status} answers other than 2xx/3xx")
    processes = {name: server_process(base) for name, base in bases.items()}
    results: dict[str, list[Load]] = {name: [] for name in bases}
    cpu_ms: dict[str, list[float]] = {name: [] for name in bases}
    names = list(bases)
    for round_ in range(args.rounds):
        for name in names[round_ % 3 :] + names[: round_ % 3]:  # each side first in turn: no order bias
            base = bases[name]
            before = cpu_seconds(processes[name])
            load = run_wrk(base, path, seconds=args.seconds, connections=args.connections, headers=headers[name])
            cpu_ms[name].append((cpu_seconds(processes[name]) - before) * 1000 / max(1, load.requests))
            results[name].append(load)
        line = ", ".join(f"{name} {runs[-1].ok_per_second:.0f}/s" for name, runs in results.items())
        print(f"  round {round_ + 1}: {line}; load {load_average()}", flush=True)
    return results, cpu_ms


def report(results: dict[str, list[Load]], cpu_ms: dict[str, list[float]], args: argparse.Namespace) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    base_rps = med([r.ok_per_second for r in results["anonymous"]])
    print(
        f"\n# {datetime.now(UTC):%Y-%m-%d}, Python {sys.version.split()[0]}, {os.cpu_count()} cores ({cpu_model()}), "
        f"{args.rounds} rounds of {args.seconds:g} s, {args.connections} connections, interleaved; "
        f"load average {load_average()} at the end"
    )
    print("| GET /jobs/{id}        |  req/s | p50 ms | p99 ms | cost per request vs anonymous |")
    print("|-----------------------|--------|--------|--------|-------------------------------|")
    for name, runs in results.items():
        rps = med([r.ok_per_second for r in runs])
        cost = "" if name == "anonymous" else f"{(base_rps / rps - 1) * 100:+.1f}%"
        p50, p99 = med([r.p50_ms for r in runs]), med([r.p99_ms for r in runs])
        print(f"| {name:<21} | {rps:6.0f} | {p50:6.2f} | {p99:6.2f} | {cost:>29} |")
    base_cpu = med(cpu_ms["anonymous"])
    print("\n| GET /jobs/{id}        | server CPU ms/request | vs anonymous |")
    print("|-----------------------|-----------------------|--------------|")
    for name, values in cpu_ms.items():
        cost = "" if name == "anonymous" else f"{(med(values) / base_cpu - 1) * 100:+.1f}%"
        print(f"| {name:<21} | {med(values):21.3f} | {cost:>12} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--admin-url", default=os.environ.get("DPR_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    require_wrk()
    psycopg_connect(make_url(args.admin_url), connect_timeout=5).close()  # fail early without a server
    name = f"dpr_bench_auth_{os.getpid()}"
    url = create_database(args.admin_url, name)
    try:
        key = new_key(url)
        common = {"DPR_STORAGE_URL": url, "DPR_EXECUTOR_KIND": "fake", "DPR_LOGGING_LEVEL": "WARNING"}
        with ExitStack() as stack:
            bases = {side: stack.enter_context(running_server(env={**common, **env})) for side, env in SIDES.items()}
            print(f"servers up (load {load_average()})", flush=True)
            results, cpu_ms = measure(bases, key, args)
        report(results, cpu_ms, args)
    finally:
        drop_database(args.admin_url, name)


if __name__ == "__main__":
    main()
