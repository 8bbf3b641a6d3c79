"""Async submission with 1 and with 3 ``dpr serve`` instances on one PostgreSQL database.

Each configuration gets a fresh database and real ``dpr serve`` processes (executor ``fake``:
the jobs run in the instances' threads, so what is measured is accepting and recording them,
as in bench_store.py). wrk (``http_load.py``) sends ``POST /processes/echo/execution`` with
``Prefer: respond-async`` for ``--seconds``, the same number of connections in total whatever
the number of instances, spread evenly over them (one wrk per instance, all at once); the
backlog of accepted jobs is drained before each round. Every number is the median of
``--rounds`` rounds. The instances share the machine's cores with PostgreSQL and wrk: on a
2-core machine more instances share the same CPU, they do not add any.

Run: ``.venv/bin/python bench/bench_instances.py [--instances 1,3] [--connections 24] [--quick]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))

from bench_store import create_database, drop_database
from http_load import Load, require_wrk, run_wrk
from machine import cpu_model, load_average
from store_data import psycopg_connect

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.server import running_server

ECHO = '{"inputs": {"echo": "hello"}, "response": "document"}'


def active_jobs(base: str) -> int:
    return int(httpx.get(f"{base}/health", timeout=30).json()["active_jobs"])


def wait_drained(bases: list[str], limit: float = 600) -> None:
    """Until no instance reports an accepted or running job."""
    began = time.monotonic()
    while any(active_jobs(b) > 0 for b in bases) and time.monotonic() - began < limit:
        time.sleep(0.5)


def submit_round(bases: list[str], connections: int, seconds: float) -> list[Load]:
    """One wrk per instance, all at once, ``connections`` in total."""
    each = max(1, connections // len(bases))
    with ThreadPoolExecutor(len(bases)) as pool:
        runs = [
            pool.submit(
                run_wrk,
                base,
                ["/processes/echo/execution"],
                seconds=seconds,
                connections=each,
                threads=1,
                post_body=ECHO,
            )
            for base in bases
        ]
        return [r.result() for r in runs]


def bench(count: int, args: argparse.Namespace) -> dict[str, float]:
    name = f"dpr_bench_instances_{count}_{os.getpid()}"
    url = create_database(args.admin_url, name)
    env = {
        "DPR_STORAGE_URL": url,
        "DPR_EXECUTOR_KIND": "fake",
        "DPR_LOGGING_LEVEL": "WARNING",
        "DPR_LIMITS_MAX_ACTIVE": "100000",
        "DPR_LIMITS_MAX_ACTIVE_PER_OWNER": "100000",  # the load is one anonymous client
        "DPR_STORAGE_MIGRATE_ON_START": "false",
    }
    rates, p50s, p99s, errors = [], [], [], 0
    try:
        with ExitStack() as servers:
            bases = [servers.enter_context(running_server(env=env, timeout=300)) for _ in range(count)]
            run_wrk(bases[0], ["/processes/echo/execution"], seconds=1, post_body=ECHO)  # warm up
            for round_ in range(args.rounds):
                wait_drained(bases)
                loads = submit_round(bases, args.connections, args.seconds)
                rate = sum(load.ok_per_second for load in loads)
                rates.append(rate)
                p50s.append(statistics.median(load.p50_ms for load in loads))
                p99s.append(max(load.p99_ms for load in loads))
                errors += sum(load.bad_status + load.socket_errors for load in loads)
                print(f"  {count} instance(s), round {round_ + 1}: {rate:.0f} jobs/s, load {load_average()}")
            wait_drained(bases)
    finally:
        drop_database(args.admin_url, name)
    return {
        "instances": count,
        "rate": statistics.median(rates),
        "p50": statistics.median(p50s),
        "p99": statistics.median(p99s),
        "errors": errors,
    }


def report(rows: list[dict[str, float]], args: argparse.Namespace) -> None:
    print()
    print(f"{cpu_model()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}, load {load_average()}")
    print(f"{args.connections} connections in total, {args.seconds:g} s per round, median of {args.rounds} round(s)")
    print()
    base = rows[0]["rate"]
    print("| instances | accepted jobs/s | vs 1st row | p50 ms | p99 ms | non-201 or socket errors |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        print(
            f"| {row['instances']:.0f} | {row['rate']:.0f} | {row['rate'] / base:.2f}x | {row['p50']:.1f} "
            f"| {row['p99']:.1f} | {row['errors']:.0f} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--instances", default="1,3", help="comma-separated instance counts")
    parser.add_argument("--connections", type=int, default=24, help="wrk connections in total")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="1 round of 4 s")
    parser.add_argument(
        "--admin-url", default=os.environ.get("DPR_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.seconds = 1, 4.0
    require_wrk()
    psycopg_connect(make_url(args.admin_url), connect_timeout=5).close()  # fail early without a server
    rows = [bench(int(n), args) for n in str(args.instances).split(",")]
    report(rows, args)


if __name__ == "__main__":
    main()
