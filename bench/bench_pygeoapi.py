"""dpr against pygeoapi 0.21, side by side in one run, on the same PostgreSQL server.

- **pygeoapi 0.21** (its own venv in ``.cache/``, see ``pygeoapi_server.py``): PostgreSQL job
  manager on a database of its own, the ``hello-world`` process, gunicorn with 2 gevent workers;
- **dpr**: ``dpr serve --http-workers 2`` on a database of its own, ``executor.kind: fake``
  (each job runs in the server process that accepted it and is recorded in the database).

Both are loaded with wrk (``apt-get install -y wrk``) from 8, 32 and 64 connections:
``GET /jobs/{id}`` (``--jobs`` finished jobs, 100 by default, requested in turn, as many
clients polling their own jobs do; one id for all would let a server answer concurrent reads
of it with one database read), ``GET /processes`` and async submission (``POST
/processes/{id}/execution`` with ``Prefer: respond-async``). Each round runs every load on both
servers, alternating which goes first, so both see the same machine load; the table gives the
median of the rounds. For dpr it also counts the PostgreSQL sessions opened during each load
(``pg_stat_database.sessions`` of its database: a pool in steady state opens none) and the CPU
time its processes used per request (``/proc/<pid>/stat`` of the server and its workers).

dpr keeps its default bounds of 32 outstanding jobs (16 per client: wrk is one) unless
``--max-active`` raises both: when the executor falls behind, submissions beyond them are
refused (429) and counted as errors, not as accepted jobs. pygeoapi has no such bound.

``--baseline SRC`` also serves another dpr version's ``src`` (say ``git archive COMMIT src | tar
-x -C /tmp/old``, then ``--baseline /tmp/old/src``) on a database of its own, measured in the
same turns: a before/after of a change in the same run.

Run: ``.venv/bin/python bench/bench_pygeoapi.py [--rounds 3] [--seconds 5] [--connections 8,32,64]
[--max-active N] [--jobs 100] [--baseline SRC]``. The first run installs pygeoapi (about 1.5 minutes).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
from bench_store import create_database, drop_database
from http_load import Load, require_wrk, run_wrk
from machine import cpu_model, load_average
from pygeoapi_server import HELLO, JOBS_TABLE, running_pygeoapi
from store_data import psycopg_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.server import running_server

ECHO = '{"inputs": {"echo": "hello"}, "response": "document"}'
LOADS = ("GET /jobs/{id}", "GET /processes", "async submission")
SERVERS = ("pygeoapi", "dpr")
BASELINE = "dpr (baseline)"
TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """One server under test: where it answers, what to request, how to watch it."""

    name: str
    base: str
    pid: int
    paths: dict[str, list[str]]
    body: str
    database: str
    results: dict[tuple[str, int], list[Load]] = field(default_factory=dict)
    sessions: dict[tuple[str, int], list[int]] = field(default_factory=dict)
    cpu_ms: dict[tuple[str, int], list[float]] = field(default_factory=dict)


def process_tree(pid: int) -> list[int]:
    """``pid`` and every process below it."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        for task in Path(f"/proc/{current}/task").glob("*"):
            children = (task / "children").read_text().split() if (task / "children").exists() else []
            todo.extend(int(c) for c in children)
    return found


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of ``pid`` and its descendants, as far as they are alive."""
    total = 0
    for p in process_tree(pid):
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except FileNotFoundError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15 of stat)
    return total / TICKS


def sessions_opened(admin_url: str, database: str) -> int:
    """How many sessions the database has had (PostgreSQL 14+ counts them per database)."""
    with psycopg_connect(make_url(admin_url), autocommit=True) as conn:
        row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (database,)).fetchone()
    return int(row[0]) if row else 0


def submit_and_wait(base: str, path: str, body: str, count: int) -> list[str]:
    """The ids of ``count`` jobs submitted with ``body``, once every one has ended."""
    headers = {"Prefer": "respond-async", "Content-Type": "application/json"}
    ids = []
    with httpx.Client(base_url=base, timeout=30) as client:
        for _ in range(count):
            answer = client.post(path, content=body, headers=headers)
            answer.raise_for_status()
            ids.append(answer.headers["location"].rstrip("/").rsplit("/", 1)[1])
        for job_id in ids:
            for _ in range(300):
                if client.get(f"/jobs/{job_id}").json()["status"] in ("successful", "failed", "dismissed"):
                    break
                time.sleep(0.1)
            else:
                raise RuntimeError(f"job {job_id} on {base} did not end")
    return ids


def measure(server: Server, load: str, connections: int, args: argparse.Namespace) -> Load:
    post = server.body if load == "async submission" else None
    watch_sessions = server.name != "pygeoapi"
    before_sessions = sessions_opened(args.admin_url, server.database) if watch_sessions else 0
    before_cpu = cpu_seconds(server.pid)
    result = run_wrk(
        server.base,
        server.paths[load],
        seconds=args.seconds,
        connections=connections,
        threads=2,
        post_body=post,
    )
    used = cpu_seconds(server.pid) - before_cpu
    key = (load, connections)
    server.results.setdefault(key, []).append(result)
    server.cpu_ms.setdefault(key, []).append(1000 * used / max(1, result.requests))
    if watch_sessions:
        time.sleep(1.5)  # a backend reports its counters at most once a second
        opened = sessions_opened(args.admin_url, server.database) - before_sessions
        server.sessions.setdefault(key, []).append(opened)
    return result


@contextmanager
def both_servers(args: argparse.Namespace, work: Path) -> Iterator[dict[str, Server]]:
    suffix = os.getpid()
    names = {"dpr": f"dpr_vs_pygeoapi_dpr_{suffix}", "pygeoapi": f"dpr_vs_pygeoapi_pygeoapi_{suffix}"}
    if args.baseline:
        names[BASELINE] = f"dpr_vs_pygeoapi_baseline_{suffix}"
    with ExitStack() as stack:
        for name in names.values():
            stack.callback(drop_database, args.admin_url, name)
        dpr_url = create_database(args.admin_url, names["dpr"])
        # The baseline's own server migrates its database: its schema may be older than this one's.
        baseline_url = create_database(args.admin_url, names[BASELINE], migrate=False) if args.baseline else ""
        with psycopg_connect(make_url(args.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{names["pygeoapi"]}"')
        pygeoapi_url = make_url(args.admin_url).set(drivername="postgresql", database=names["pygeoapi"])
        with psycopg_connect(pygeoapi_url, autocommit=True) as conn:
            conn.execute(JOBS_TABLE)
        plain = pygeoapi_url.render_as_string(hide_password=False)
        env = {"DPR_STORAGE_URL": dpr_url, "DPR_EXECUTOR_KIND": "fake", "DPR_LOGGING_LEVEL": "WARNING"}
        if args.max_active is not None:
            env["DPR_LIMITS_MAX_ACTIVE"] = str(args.max_active)
            env["DPR_LIMITS_MAX_ACTIVE_PER_OWNER"] = str(args.max_active)  # wrk is one (anonymous) client
        workers = ("--http-workers", str(args.http_workers))
        dpr_base = stack.enter_context(running_server(*workers, env=env))
        geo_base, geo_proc = stack.enter_context(running_pygeoapi(plain, work, args.http_workers))
        servers = {
            "pygeoapi": Server("pygeoapi", geo_base, geo_proc.pid, {}, HELLO, names["pygeoapi"]),
            "dpr": Server("dpr", dpr_base, server_pid(dpr_base), {}, ECHO, names["dpr"]),
        }
        if args.baseline:
            old_env = {**env, "DPR_STORAGE_URL": baseline_url, "PYTHONPATH": str(args.baseline)}
            old_base = stack.enter_context(running_server(*workers, env=old_env))
            servers[BASELINE] = Server(BASELINE, old_base, server_pid(old_base), {}, ECHO, names[BASELINE])
        for server in servers.values():
            execution = f"/processes/{'hello-world' if server.name == 'pygeoapi' else 'echo'}/execution"
            ids = submit_and_wait(server.base, execution, server.body, args.jobs)
            server.paths = {
                "GET /jobs/{id}": [f"/jobs/{job_id}" for job_id in ids],
                "GET /processes": ["/processes"],
                "async submission": [execution],
            }
        yield servers


def server_pid(base: str) -> int:
    """The pid of the ``dpr serve`` process listening on ``base``'s port (its parent process)."""
    port = base.rsplit(":", 1)[1]
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            command = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in command and port.encode() in command:
            return int(proc.name)
    raise RuntimeError(f"no dpr serve process for {base}")


def run(args: argparse.Namespace) -> dict[str, Server]:
    with tempfile.TemporaryDirectory(prefix="dpr-vs-pygeoapi-") as work, both_servers(args, Path(work)) as servers:
        for load in LOADS:  # warm up at the highest concurrency: pools filled, caches made
            for server in servers.values():
                post = server.body if load == "async submission" else None
                run_wrk(server.base, server.paths[load], seconds=2, connections=max(args.connections), post_body=post)
        names = list(servers)
        for round_ in range(args.rounds):
            order = names[round_ % len(names) :] + names[: round_ % len(names)]  # each goes first in turn
            for load in LOADS:
                for connections in args.connections:
                    for name in order:
                        measure(servers[name], load, connections, args)
            print(f"  round {round_ + 1} of {args.rounds} done, load average {load_average()}", flush=True)
        return servers


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def rates(side: list[Load], other: list[Load]) -> tuple[float, float, list[float]]:
    """The median rates of ``side`` and ``other``, and round by round the ratio of their rates."""
    ratios = [x.ok_per_second / max(1e-9, y.ok_per_second) for x, y in zip(side, other, strict=True)]
    return median([x.ok_per_second for x in side]), median([x.ok_per_second for x in other]), ratios


def report(servers: dict[str, Server], args: argparse.Namespace, load_before: str) -> None:
    dpr, geo = servers["dpr"], servers["pygeoapi"]
    print(
        f"\n# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}, {args.rounds} rounds of {args.seconds:g} s, "
        f"{args.http_workers} workers each; load average before {load_before}, after {load_average()}"
    )
    print(
        "| load | c | pygeoapi req/s | p50 ms | p99 ms | dpr req/s | p50 ms | p99 ms | ratio (rounds) "
        "| dpr new sessions | CPU ms/req dpr | pygeoapi |"
    )
    print("|---|--:|--:|--:|--:|--:|--:|--:|---|--:|--:|--:|")
    for load in LOADS:
        for c in args.connections:
            key = (load, c)
            g, d = geo.results[key], dpr.results[key]
            rate_d, rate_g, ratios = rates(d, g)
            errors = {
                name: sum(x.bad_status + x.socket_errors for x in runs) for name, runs in (("pygeoapi", g), ("dpr", d))
            }
            print(
                f"| {load} | {c} | {rate_g:.0f} | {median([x.p50_ms for x in g]):.1f} | "
                f"{median([x.p99_ms for x in g]):.1f} | {rate_d:.0f} | {median([x.p50_ms for x in d]):.1f} | "
                f"{median([x.p99_ms for x in d]):.1f} | {rate_d / rate_g:.1f}x "
                f"({', '.join(f'{r:.1f}' for r in ratios)}) | {', '.join(str(s) for s in dpr.sessions[key])} | "
                f"{median(dpr.cpu_ms[key]):.2f} | {median(geo.cpu_ms[key]):.2f} |"
                + "".join(f" {n} {name} errors" for name, n in errors.items() if n)
            )
    if BASELINE in servers:
        old = servers[BASELINE]
        print(
            "\n| load | c | dpr (baseline) req/s | p99 ms | dpr req/s | p99 ms | ratio (rounds) "
            "| CPU ms/req baseline | dpr |"
        )
        print("|---|--:|--:|--:|--:|--:|---|--:|--:|")
        for load in LOADS:
            for c in args.connections:
                key = (load, c)
                b, d = old.results[key], dpr.results[key]
                rate_d, rate_b, ratios = rates(d, b)
                print(
                    f"| {load} | {c} | {rate_b:.0f} | {median([x.p99_ms for x in b]):.1f} | {rate_d:.0f} | "
                    f"{median([x.p99_ms for x in d]):.1f} | {rate_d / rate_b:.2f}x "
                    f"({', '.join(f'{r:.2f}' for r in ratios)}) | {median(old.cpu_ms[key]):.2f} | "
                    f"{median(dpr.cpu_ms[key]):.2f} |"
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--admin-url", default=os.environ.get("DPR_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of one wrk run")
    parser.add_argument("--connections", default="8,32,64", help="comma-separated wrk connection counts")
    parser.add_argument("--http-workers", type=int, default=2, help="worker processes of each server")
    parser.add_argument(
        "--max-active",
        type=int,
        help="dpr's limits.max_active and max_active_per_owner (default 32 and 16: beyond them submissions get 429)",
    )
    parser.add_argument("--jobs", type=int, default=100, help="finished jobs whose status is read in turn")
    parser.add_argument("--baseline", type=Path, help="another dpr version's src folder, served and measured too")
    args = parser.parse_args()
    args.connections = [int(c) for c in str(args.connections).split(",")]
    require_wrk()
    psycopg_connect(make_url(args.admin_url), connect_timeout=5).close()  # fail early without a server
    load_before = load_average()
    report(run(args), args, load_before)


if __name__ == "__main__":
    main()
