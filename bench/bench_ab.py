"""Two dpr versions side by side on one load: the A/B check of a change before the full runs.

Each ``--src`` folder (a checkout's ``src``, say ``git archive COMMIT src | tar -x -C /tmp/old``)
is served by its own ``dpr serve --http-workers 2`` (``executor.kind: fake``, PostgreSQL, a
database of its own, outstanding-job bounds lifted) and loaded with wrk in turn, the order
alternating every round so both see the same machine load. The loads are async submission of
``echo`` jobs, ``GET /jobs/{id}`` of one finished job and ``GET /processes``. For each server the
table gives the median over rounds of the answers per second and of the CPU time per request of
its processes and of PostgreSQL's (every ``postgres`` process on the machine, so run it with
nothing else on the database server).

Run: ``.venv/bin/python bench/bench_ab.py --src /tmp/old/src --src src [--load submit]
[-c 32] [--rounds 4] [--seconds 5]``.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).parent))
from bench_pygeoapi import ECHO, cpu_seconds, server_pid
from bench_store import create_database, drop_database
from http_load import require_wrk, run_wrk
from machine import cpu_model, load_average

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.server import running_server

TICKS = os.sysconf("SC_CLK_TCK")
LOADS = ("submit", "status", "processes")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process on this machine."""
    total = 0
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if (proc / "comm").read_text().strip() not in ("postgres", "postmaster"):
                continue
            fields = (proc / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended meanwhile
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--src", action="append", required=True, help="a dpr src folder (give two)")
    parser.add_argument("--load", choices=LOADS, default="submit")
    parser.add_argument("-c", "--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    require_wrk()
    post = ECHO if args.load == "submit" else None
    before = load_average()
    with ExitStack() as stack:
        servers: list[tuple[str, str, int, list[str]]] = []
        for n, src in enumerate(args.src):
            name = f"dpr_bench_ab_{os.getpid()}_{n}"
            stack.callback(drop_database, args.admin_url, name)
            env = {
                "DPR_STORAGE_URL": create_database(args.admin_url, name, migrate=False),
                "DPR_EXECUTOR_KIND": "fake",
                "DPR_LOGGING_LEVEL": "WARNING",
                "DPR_LIMITS_MAX_ACTIVE": "1000000",
                "DPR_LIMITS_MAX_ACTIVE_PER_OWNER": "1000000",
                "PYTHONPATH": str(Path(src).resolve()),
            }
            base = stack.enter_context(running_server("--http-workers", "2", env=env))
            headers = {"Content-Type": "application/json", "Prefer": "respond-async"}
            answer = httpx.post(f"{base}/processes/echo/execution", content=ECHO, headers=headers, timeout=30)
            job = answer.json()
            if "jobID" not in job:
                raise SystemExit(f"{src}: the first job was refused: {answer.status_code} {answer.text}")
            paths = {
                "submit": ["/processes/echo/execution"],
                "status": [f"/jobs/{job['jobID']}"],
                "processes": ["/processes"],
            }[args.load]
            run_wrk(base, paths, seconds=2, connections=args.connections, post_body=post)  # warm up
            servers.append((src, base, server_pid(base), paths))
        measured: dict[str, list[tuple[float, float, float]]] = {src: [] for src, *_ in servers}
        for round_ in range(args.rounds):
            for src, base, pid, paths in servers if round_ % 2 == 0 else servers[::-1]:
                dpr_before, pg_before = cpu_seconds(pid), postgres_cpu_seconds()
                load = run_wrk(base, paths, seconds=args.seconds, connections=args.connections, post_body=post)
                count = max(1, load.requests)
                dpr_ms = 1000 * (cpu_seconds(pid) - dpr_before) / count
                pg_ms = 1000 * (postgres_cpu_seconds() - pg_before) / count
                measured[src].append((load.ok_per_second, dpr_ms, pg_ms))
            print(f"  round {round_ + 1} of {args.rounds} done, load average {load_average()}", flush=True)
    print(
        f"\n# {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, {os.cpu_count()} cores ({cpu_model()}), "
        f"Python {platform.python_version()}, {args.load} at c={args.connections}, {args.rounds} rounds of "
        f"{args.seconds:g} s; load average before {before}, after {load_average()}"
    )
    print("| src | req/s | CPU ms/req dpr | PostgreSQL | rounds, req/s |")
    print("|---|--:|--:|--:|---|")
    for src, rows in measured.items():
        rates = ", ".join(f"{rate:.0f}" for rate, _, _ in rows)
        medians = [statistics.median(row[i] for row in rows) for i in range(3)]
        print(f"| {src} | {medians[0]:.0f} | {medians[1]:.3f} | {medians[2]:.3f} | {rates} |")


if __name__ == "__main__":
    main()
