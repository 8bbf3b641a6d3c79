"""The job store behind the real HTTP API, at 10^4, 10^5 and 10^6 jobs in PostgreSQL.

For each size: a fresh database filled with one COPY (``store_data.py``), a real ``dpr serve``
(executor ``fake``) on it, then over loopback HTTP with wrk (``http_load.py``):

- latency of ``GET /jobs?limit=100`` (first page), of a deep page (the cursor of the job 90% down
  the newest-first order), of a filtered page (``status=failed&processID=mockup``) and of
  ``GET /jobs/{id}`` (500 ids spread over the table, in turn): one connection, p50/p99;
- async submission: ``POST /processes/echo/execution`` with ``Prefer: respond-async`` from 32
  connections for ``--submit-seconds``, in 201 answers per second (the backlog of accepted jobs
  is drained before each round and timed after it);
- the plans of the adapter's list queries under ``EXPLAIN ANALYZE`` at the largest size.

Every number is the median of ``--rounds`` rounds. Needs the PostgreSQL server at ``--admin-url``
(trust auth is fine) and wrk (``apt-get install -y wrk``). The databases are dropped at the end.

Run: ``.venv/bin/python bench/bench_store.py [--sizes 10000,100000,1000000] [--quick]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).parent))

from dpr.adapters.sql import upgrade_url
from dpr.domain.query import Cursor
from http_load import Load, require_wrk, run_wrk
from machine import cpu_model, load_average
from store_data import deep_cursor, fill, psycopg_connect, sample_ids
from store_plans import explain

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.server import running_server

ECHO = '{"inputs": {"echo": "hello"}, "response": "document"}'
LATENCIES = ("list first page", "list deep page", "list filtered", "get job")


def create_database(admin_url: str, name: str, *, migrate: bool = True) -> str:
    """A new, empty database ``name`` and its URL, migrated to this version's schema unless
    ``migrate`` is false (a server of another version migrates it to its own when it starts)."""
    admin = make_url(admin_url)
    with psycopg_connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    if migrate:
        asyncio.run(upgrade_url(url))
    return url


def drop_database(admin_url: str, name: str) -> None:
    with psycopg_connect(make_url(admin_url), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def active_jobs(base: str) -> int:
    return int(httpx.get(f"{base}/health", timeout=30).json()["active_jobs"])


def wait_drained(base: str, limit: float = 600) -> float:
    """Seconds until the server reports no accepted or running job (the executor's backlog)."""
    began = time.monotonic()
    while active_jobs(base) > 0 and time.monotonic() - began < limit:
        time.sleep(0.5)
    return time.monotonic() - began


def measure(base: str, url: str, args: argparse.Namespace) -> dict[str, list[Load] | list[float]]:
    ids = sample_ids(url, 500)
    deep = deep_cursor(url)
    paths = {
        "list first page": ["/jobs?limit=100"],
        "list deep page": [f"/jobs?limit=100&cursor={deep}"],
        "list filtered": ["/jobs?limit=100&status=failed&processID=mockup"],
        "get job": [f"/jobs/{job_id}" for job_id in ids],
    }
    results: dict[str, list[Load] | list[float]] = {name: [] for name in [*LATENCIES, "submit", "drain"]}
    for wanted in paths.values():  # warm the caches a real server would have warm
        run_wrk(base, wanted, seconds=1)
    for round_ in range(args.rounds):
        wait_drained(base)
        for name, wanted in paths.items():
            results[name].append(run_wrk(base, wanted, seconds=args.latency_seconds))  # type: ignore[arg-type]
        submitted = run_wrk(
            base, ["/processes/echo/execution"], seconds=args.submit_seconds, connections=32, threads=2, post_body=ECHO
        )
        results["submit"].append(submitted)  # type: ignore[arg-type]
        results["drain"].append(wait_drained(base))  # type: ignore[arg-type]
        print(
            f"    round {round_ + 1}: {submitted.ok_per_second:.0f} jobs/s accepted, load {load_average()}", flush=True
        )
    return results


def bench_size(size: int, args: argparse.Namespace) -> dict[str, object]:
    name = f"dpr_bench_{size}_{os.getpid()}"
    print(f"== {size:,} jobs (database {name}, load {load_average()})", flush=True)
    url = create_database(args.admin_url, name)
    try:
        print(f"  filled in {fill(url, size):.1f} s", flush=True)
        env = {"DPR_STORAGE_URL": url, "DPR_EXECUTOR_KIND": "fake", "DPR_LOGGING_LEVEL": "WARNING"}
        worker_args = ("--http-workers", str(args.http_workers))
        with running_server(*worker_args, env=env, timeout=300) as base:
            results = measure(base, url, args)
        plans = explain(url, datetime.now(UTC), Cursor.decode(deep_cursor(url))) if size == max(args.sizes) else []
    finally:
        if not args.keep:
            drop_database(args.admin_url, name)
    return {"size": size, "results": results, "plans": plans}


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def report(rows: list[dict[str, object]], args: argparse.Namespace) -> None:
    print()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores ({cpu_model()}), Python {platform.python_version()}, "
        f"uvicorn with {args.http_workers} HTTP worker(s), {args.rounds} round(s), load now {load_average()}"
    )
    header = "| jobs | " + " | ".join(f"{n} p50 / p99 ms" for n in LATENCIES) + " | submit jobs/s | drain s |"
    print(header)
    print("|" + "---|" * (len(LATENCIES) + 3))
    for row in rows:
        res = row["results"]
        cells = []
        for name in LATENCIES:
            loads: list[Load] = res[name]  # type: ignore[index]
            cells.append(f"{median([x.p50_ms for x in loads]):.2f} / {median([x.p99_ms for x in loads]):.2f}")
        submit = median([x.ok_per_second for x in res["submit"]])  # type: ignore[index]
        rounds = ", ".join(f"{x.ok_per_second:.0f}" for x in res["submit"])  # type: ignore[index]
        drain = median(res["drain"])  # type: ignore[index,arg-type]
        print(f"| {row['size']:,} | " + " | ".join(cells) + f" | {submit:.0f} ({rounds}) | {drain:.0f} |")
    check_targets(rows)
    for row in rows:
        if row["plans"]:
            print(f"\nPlans of the list queries at {row['size']:,} jobs (EXPLAIN ANALYZE):")
            for plan in row["plans"]:  # type: ignore[attr-defined]
                flag = "FULL SCAN" if plan["full scan"] else "ok"
                print(f"  {plan['query']:42} {flag:9} {plan['ms']:8.2f} ms  {plan['plan']}")


def check_targets(rows: list[dict[str, object]]) -> None:
    small, large = rows[0], rows[-1]
    print()
    for name in LATENCIES:
        a = median([x.p50_ms for x in small["results"][name]])  # type: ignore[index]
        b = median([x.p50_ms for x in large["results"][name]])  # type: ignore[index]
        verdict = "met" if b <= 1.5 * a else "NOT met"
        print(
            f"target {name}: p50 at {large['size']:,} within 1.5x of {small['size']:,}: "
            f"{b:.2f} vs {a:.2f} ms ({b / a:.2f}x) {verdict}"
        )
    get = median([x.p50_ms for x in large["results"]["get job"]])  # type: ignore[index]
    print(
        f"target GET /jobs/{{id}} p50 under 10 ms at {large['size']:,}: {get:.2f} ms {'met' if get < 10 else 'NOT met'}"
    )
    rate = median([x.ok_per_second for r in rows for x in r["results"]["submit"]])  # type: ignore[index]
    print(
        f"target async submission >= 1650 jobs/s (median of all rounds): "
        f"{rate:.0f} {'met' if rate >= 1650 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10000,100000,1000000", help="comma-separated job counts")
    parser.add_argument("--quick", action="store_true", help="sizes 10^4,10^5 (unless --sizes), 1 round, short runs")
    parser.add_argument(
        "--admin-url", default=os.environ.get("DPR_BENCH_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/test")
    )
    parser.add_argument("--http-workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--latency-seconds", type=float, default=4.0)
    parser.add_argument("--submit-seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.latency_seconds, args.submit_seconds = 1, 2.0, 5.0
        if "--sizes" not in sys.argv:
            args.sizes = "10000,100000"
    args.sizes = sorted(int(s) for s in str(args.sizes).split(","))
    require_wrk()
    psycopg_connect(make_url(args.admin_url), connect_timeout=5).close()  # fail early without a server
    rows = [bench_size(size, args) for size in args.sizes]
    report(rows, args)


if __name__ == "__main__":
    main()
