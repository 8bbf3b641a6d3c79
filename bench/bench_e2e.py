"""End to end through HTTP: ``POST /processes/echo/execution`` (async) to a job recorded as
``successful``, against raw Dask ``client.map`` on the same cluster, in the same run.

For each store (PostgreSQL in a per-run database; the embedded SQLite file) a real ``dpr serve``
runs with its embedded LocalCluster (the default 2 worker processes, 1 thread each; the scheduler
in a process of its own unless ``DPR_EXECUTOR_SCHEDULER_PROCESS=false``). Each round,
for each server in turn (interleaved, so all see the same machine load):

- **raw Dask**: a client connected to that server's own scheduler maps a module-level no-op over
  N inputs and gathers the results;
- **dpr**: N echo jobs submitted async over keep-alive HTTP connections (``-c`` at a time), timed
  until every one is terminal (``/health`` reports no active job once all were accepted); the
  count of successful jobs is checked through ``GET /jobs?count=true``. On PostgreSQL the
  database's own counters (``pg_stat_database``) give transactions and rows written per job.

Prints the medians over the rounds and the ratio dpr/raw. ``--py-spy DIR`` samples the servers
with py-spy (``pip install py-spy``) during their last dpr round; ``--baseline SRC`` serves another
dpr version's ``src`` folder on PostgreSQL too, for a before/after in one run. The servers run with
``limits.max_active`` and ``limits.max_active_per_owner`` raised: the defaults (32, 16 per client)
would answer most of the burst with 429.

Run: ``.venv/bin/python bench/bench_e2e.py [-n 2000] [-c 32] [--rounds 5] [--stores postgres,sqlite]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil
from distributed import Client
from distributed.core import rpc
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_store import create_database, drop_database
from machine import cpu_model, cpu_seconds, load_average
from store_data import psycopg_connect
from tests.integration.server import ROOT, running_server
from tests.waiting import wait_for

BODY = json.dumps({"inputs": {"echo": "x"}, "response": "document"}).encode()
SCHEDULER_PROCESS = "DPR_EXECUTOR_SCHEDULER_PROCESS"
PG_COUNTERS = ("xact_commit", "tup_inserted", "tup_updated", "tup_fetched")


def noop(x: object) -> object:
    return x


@dataclass
class Server:
    """One ``dpr serve`` under test and what was measured on it."""

    name: str
    base: str
    pid: int
    scheduler: str
    scheduler_pid: int  # the server's, or its cluster process's
    db_name: str | None = None
    raw: list[float] = field(default_factory=list)  # tasks/s per round
    dpr: list[float] = field(default_factory=list)  # jobs/s per round (to all terminal)
    accepted: list[float] = field(default_factory=list)  # submissions answered per second
    counters: list[dict[str, float]] = field(default_factory=list)  # per job, PostgreSQL only
    raw_cpu: list[float] = field(default_factory=list)  # CPU ms per raw task of the scheduler's process
    server_cpu: list[float] = field(default_factory=list)  # CPU ms per job of the server process
    all_cpu: list[float] = field(default_factory=list)  # CPU ms per job of the server and its children


# --- a minimal HTTP/1.1 client: a Python client must not eat the CPU the server needs ---------


async def post_jobs(host: str, port: int, count: int, connections: int) -> float:
    """Submit ``count`` echo jobs over ``connections`` keep-alive connections; seconds taken."""
    left = [count]
    request = (
        f"POST /processes/echo/execution HTTP/1.1\r\nHost: {host}:{port}\r\n"
        f"Content-Type: application/json\r\nPrefer: respond-async\r\nContent-Length: {len(BODY)}\r\n\r\n"
    ).encode() + BODY

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while left[0] > 0:
                left[0] -= 1
                writer.write(request)
                status = await read_response(reader)
                if status != 201:
                    raise RuntimeError(f"submission answered {status}")
        finally:
            writer.close()

    t0 = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(connections)))
    return time.perf_counter() - t0


async def read_response(reader: asyncio.StreamReader) -> int:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length = next((int(x.split(":", 1)[1]) for x in lines[1:] if x.lower().startswith("content-length:")), 0)
    await reader.readexactly(length)
    return status


# --- measures ---------------------------------------------------------------------------------


async def raw_round(server: Server, n: int) -> float:
    async with Client(server.scheduler, asynchronous=True, set_as_default=False) as client:
        t0 = time.perf_counter()
        await client.gather(client.map(noop, range(n), pure=False))
        return n / (time.perf_counter() - t0)


def successful(base: str) -> int:
    page = httpx.get(f"{base}/jobs", params={"status": "successful", "limit": 1, "count": "true"}, timeout=60)
    return int(page.json()["numberMatched"])


def active(base: str) -> int:
    return int(httpx.get(f"{base}/health", timeout=60).json()["active_jobs"])


async def dpr_round(server: Server, n: int, connections: int) -> tuple[float, float]:
    """Jobs/s to all terminal, and submissions answered per second."""
    before = successful(server.base)
    url = httpx.URL(server.base)
    t0 = time.perf_counter()
    submit_seconds = await post_jobs(url.host, url.port or 80, n, connections)
    async with httpx.AsyncClient(base_url=server.base, timeout=60) as http:
        while int((await http.get("/health")).json()["active_jobs"]) > 0:  # noqa: ASYNC110 (polls a server)
            await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - t0
    done = successful(server.base) - before
    if done != n:
        raise RuntimeError(f"{server.name}: {done} of {n} jobs successful")
    return n / elapsed, n / submit_seconds


def pg_counters(admin_url: str, db_name: str) -> dict[str, float]:
    columns = ", ".join(PG_COUNTERS)
    with psycopg_connect(make_url(admin_url), autocommit=True) as conn:
        conn.execute("SELECT pg_stat_clear_snapshot()")
        row = conn.execute(f"SELECT {columns} FROM pg_stat_database WHERE datname = %s", [db_name]).fetchone()
    assert row is not None
    return dict(zip(PG_COUNTERS, (float(x) for x in row), strict=True))


# --- servers ----------------------------------------------------------------------------------


def scheduler_of(pid: int, http_port: int) -> tuple[str, int]:
    """The address of the embedded scheduler: the listening port of the server process (or of
    a process of its own, a child of the server's) that a Dask client can connect to (the
    others are HTTP: the API and the scheduler's own), and the id of that process."""

    async def first_dask(ports: list[tuple[int, int]]) -> tuple[str, int]:
        for port, owner in ports:
            address = f"tcp://127.0.0.1:{port}"
            try:
                async with rpc(address, timeout=3) as remote:
                    identity = await asyncio.wait_for(remote.identity(), 5)
            except Exception:  # not Dask: the API's or the scheduler's HTTP port
                continue
            if identity.get("type") == "Scheduler":  # not a nanny of the workers (also in this process)
                return address, owner
        raise RuntimeError(f"no Dask scheduler listens in process {pid} or its children")

    server = psutil.Process(pid)
    listening = {
        (c.laddr.port, p.pid)
        for p in [server, *server.children(recursive=True)]
        for c in p.net_connections("tcp")
        if c.status == psutil.CONN_LISTEN and c.laddr.port != http_port
    }
    return asyncio.run(first_dask(sorted(listening)))


@contextmanager
def serving(
    name: str, storage_url: str, db_name: str | None, src: Path | None = None, extra: dict[str, str] | None = None
) -> Iterator[Server]:
    env = {
        **(extra or {}),
        "DPR_STORAGE_URL": storage_url,
        "DPR_LOGGING_LEVEL": "WARNING",
        "DPR_LIMITS_MAX_ACTIVE": str(10**9),  # the default 32 would turn this load away with 429s
        "DPR_LIMITS_MAX_ACTIVE_PER_OWNER": str(10**9),  # and the 16 one client (here, anonymous) may hold
        "DPR_RETENTION_DAYS": str(10**4),
    }
    if src is not None:  # another version of dpr (its src folder), this checkout for tests.processors
        env["PYTHONPATH"] = os.pathsep.join([str(src), str(ROOT)])
    with running_server(env=env, timeout=300) as base:
        port = httpx.URL(base).port
        pid = next(
            c.pid for c in psutil.net_connections("tcp") if c.status == psutil.CONN_LISTEN and c.laddr.port == port
        )
        assert pid is not None
        ready = lambda: httpx.get(f"{base}/health/ready", timeout=5).status_code == 200  # noqa: E731
        wait_for(ready, 300, "the embedded cluster to be up (/health/ready)")
        scheduler, scheduler_pid = scheduler_of(pid, port or 0)
        yield Server(name=name, base=base, pid=pid, scheduler=scheduler, scheduler_pid=scheduler_pid, db_name=db_name)


@contextmanager
def py_spy(server: Server, out_dir: Path | None, seconds: float) -> Iterator[None]:
    if out_dir is None:
        yield
        return
    out_dir.mkdir(parents=True, exist_ok=True)
    out = out_dir / f"{server.name.replace(', ', '-')}.txt"
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    command = [spy, "record", "-p", str(server.pid), "-d", str(round(seconds)), "-f", "raw", "-r", "200"]
    proc = subprocess.Popen([*command, "-o", str(out)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield
    finally:
        proc.send_signal(signal.SIGINT)  # py-spy writes what it sampled so far
        proc.wait()
        print(f"  py-spy samples of {server.name} in {out}", flush=True)


# --- the run ----------------------------------------------------------------------------------


def run_rounds(servers: list[Server], args: argparse.Namespace) -> None:
    for server in servers:  # warm up: imports on the workers, connections, plans
        asyncio.run(raw_round(server, 200))
        asyncio.run(dpr_round(server, 200, args.c))
    for round_ in range(args.rounds):
        for server in servers:
            cpu0 = cpu_seconds(server.scheduler_pid)
            server.raw.append(asyncio.run(raw_round(server, args.n)))
            server.raw_cpu.append(1000 * (cpu_seconds(server.scheduler_pid) - cpu0) / args.n)
            before = pg_counters(args.admin_url, server.db_name) if server.db_name else None
            last = round_ == args.rounds - 1
            cpu0, all0 = cpu_seconds(server.pid), cpu_seconds(server.pid, children=True)
            with py_spy(server, args.py_spy if last else None, 10 * args.n / server.raw[-1]):
                rate, accepted = asyncio.run(dpr_round(server, args.n, args.c))
            server.server_cpu.append(1000 * (cpu_seconds(server.pid) - cpu0) / args.n)
            server.all_cpu.append(1000 * (cpu_seconds(server.pid, children=True) - all0) / args.n)
            server.dpr.append(rate)
            server.accepted.append(accepted)
            if before is not None and server.db_name is not None:
                time.sleep(1.5)  # PostgreSQL publishes a backend's counters at most once a second
                after = pg_counters(args.admin_url, server.db_name)
                server.counters.append({k: (after[k] - before[k]) / args.n for k in PG_COUNTERS})
            print(
                f"  round {round_ + 1} {server.name}: raw {server.raw[-1]:.0f} tasks/s, dpr {rate:.0f} jobs/s "
                f"({rate / server.raw[-1]:.0%}), accepted {accepted:.0f}/s; CPU ms: scheduler per raw task "
                f"{server.raw_cpu[-1]:.2f}, server per job {server.server_cpu[-1]:.2f}, all processes per job "
                f"{server.all_cpu[-1]:.2f}; load {load_average()}",
                flush=True,
            )


def report(servers: list[Server], args: argparse.Namespace) -> None:
    print()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}, N={args.n}, c={args.c}, {args.rounds} rounds (medians), "
        f"load now {load_average()}"
    )
    print("| store | raw Dask tasks/s | dpr jobs/s (to all terminal) | ratio | accepted/s | ratio per round |")
    print("|---|---|---|---|---|---|")
    for s in servers:
        ratios = [d / r for d, r in zip(s.dpr, s.raw, strict=True)]
        print(
            f"| {s.name} | {statistics.median(s.raw):.0f} | {statistics.median(s.dpr):.0f} | "
            f"{statistics.median(ratios):.0%} | {statistics.median(s.accepted):.0f} | "
            + ", ".join(f"{r:.0%}" for r in ratios)
            + " |"
        )
    print()
    print(
        "| server | scheduler CPU ms per raw task | server CPU ms per job | all processes CPU ms per job "
        "| CPU-bound ratio (scheduler per task / server per job) |"
    )
    print("|---|---|---|---|---|")
    for s in servers:
        raw_cpu, server_cpu = statistics.median(s.raw_cpu), statistics.median(s.server_cpu)
        print(
            f"| {s.name} | {raw_cpu:.2f} | {server_cpu:.2f} | {statistics.median(s.all_cpu):.2f} "
            f"| {raw_cpu / server_cpu:.0%} |"
        )
    for s in servers:
        if s.counters:
            medians = {k: statistics.median(c[k] for c in s.counters) for k in PG_COUNTERS}
            print(
                f"# {s.name} per job (pg_stat_database, median): "
                + ", ".join(f"{k} {v:.2f}" for k, v in medians.items())
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="jobs (and raw tasks) per round")
    parser.add_argument("-c", type=int, default=32, help="HTTP connections submitting at once")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--stores", default="postgres,sqlite")
    parser.add_argument(
        "--admin-url", default=os.environ.get("DPR_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    )
    parser.add_argument("--py-spy", type=Path, default=None, help="folder for py-spy samples of the last round")
    parser.add_argument(
        "--baseline",
        type=Path,
        default=None,
        help="the src folder of another dpr version, served on PostgreSQL too (before/after in one run), e.g. "
        "mkdir /tmp/old && git archive COMMIT src | tar -x -C /tmp/old, then --baseline /tmp/old/src",
    )
    parser.add_argument(
        "--in-process-scheduler",
        action="store_true",
        help="also serve this version on PostgreSQL with the embedded scheduler in the server's process "
        "(executor.scheduler_process false)",
    )
    args = parser.parse_args()
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="dpr-bench-e2e-") as tmp:
        servers = []
        for store in stores:
            if store == "postgres":
                variants: list[tuple[str, Path | None, dict[str, str] | None]] = [("postgres", None, None)]
                if args.in_process_scheduler:
                    variants.append(("postgres, scheduler in the server", None, {SCHEDULER_PROCESS: "false"}))
                if args.baseline is not None:
                    variants.append(("postgres, baseline", args.baseline, None))
                for label, src, extra in variants:
                    db_name = f"dpr_bench_e2e_{os.getpid()}_{len(servers)}"
                    # Another version's server (the baseline) migrates its database to its own schema.
                    url = create_database(args.admin_url, db_name, migrate=src is None)
                    stack.callback(drop_database, args.admin_url, db_name)
                    servers.append(stack.enter_context(serving(label, url, db_name, src, extra)))
            elif store == "sqlite":
                url = f"sqlite+aiosqlite:///{tmp}/dpr.sqlite"
                servers.append(stack.enter_context(serving("sqlite", url, None)))
            else:
                raise SystemExit(f"unknown store {store!r}: postgres or sqlite")
        print(f"servers up ({', '.join(s.name for s in servers)}), load {load_average()}", flush=True)
        run_rounds(servers, args)
    report(servers, args)


if __name__ == "__main__":
    main()
