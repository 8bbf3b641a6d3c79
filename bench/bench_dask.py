"""Overhead of running jobs through dpr on Dask, against raw ``client.submit`` + ``gather``.

Both run on the same embedded LocalCluster (2 worker processes, 1 thread each) in the same run:

- throughput: N trivial jobs submitted at once (the ``echo`` process through the Services with an
  in-memory repository) vs N raw no-op tasks;
- latency: one job at a time, from submit to recorded result, vs one raw task at a time.

Run: ``.venv/bin/python bench/bench_dask.py [-n 2000] [--latency 200]``.
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

from distributed import Client

from dpr.adapters.clock import UuidIdGenerator
from dpr.adapters.dask import DaskExecutor, LocalClusterSource
from dpr.adapters.settings import ProcessSettings
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.builders import execute_body
from tests.services import Services, wire

ASYNC = Preference(respond_async=True)
BODY = {"inputs": {"echo": "x"}}


def noop(x: object) -> object:
    return x


def service_on(executor: DaskExecutor) -> Services:
    return wire(ProcessSettings(enabled=["echo"]), executor=executor, ids=UuidIdGenerator())


async def one_job(service: Services) -> float:
    t0 = time.perf_counter()
    job = (await service.submission.execute("echo", execute_body(BODY), ASYNC)).job
    job = await service.queries.wait(job.job_id, 60)
    assert job.status is JobStatus.SUCCESSFUL, job
    return time.perf_counter() - t0


async def one_raw(client: Client, i: int) -> float:
    t0 = time.perf_counter()
    await client.submit(noop, i, pure=False)
    return time.perf_counter() - t0


async def jobs_per_second(service: Services, n: int) -> float:
    t0 = time.perf_counter()
    await asyncio.gather(*(one_job(service) for _ in range(n)))
    return n / (time.perf_counter() - t0)


async def raw_per_second(client: Client, n: int) -> float:
    t0 = time.perf_counter()
    await client.gather([client.submit(noop, i, pure=False) for i in range(n)])
    return n / (time.perf_counter() - t0)


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1] * 1000


async def main(n: int, n_latency: int, rounds: int) -> None:
    executor = DaskExecutor(LocalClusterSource(workers=2, threads_per_worker=1, processes=True))
    service = service_on(executor)
    await service.start()
    client = executor.client  # the same cluster, for the raw baseline
    assert client is not None
    await asyncio.gather(raw_per_second(client, 200), jobs_per_second(service, 200))  # warm up
    raw_tputs, dpr_tputs, raw_lat, dpr_lat = [], [], [], []
    for _ in range(rounds):  # interleaved, so both see the same machine load
        raw_tputs.append(await raw_per_second(client, n))
        dpr_tputs.append(await jobs_per_second(service, n))
        raw_lat += [await one_raw(client, i) for i in range(n_latency)]
        dpr_lat += [await one_job(service) for _ in range(n_latency)]
    await service.close()
    report(n, n_latency, rounds, raw_tputs, dpr_tputs, raw_lat, dpr_lat)


def latency_row(q: int, raw: list[float], ours: list[float]) -> tuple[str, str, str, str]:
    return f"latency p{q}, ms", f"{pct(raw, q):.1f}", f"{pct(ours, q):.1f}", f"added {pct(ours, q) - pct(raw, q):.1f}"


def report(
    n: int,
    n_latency: int,
    rounds: int,
    raw_tputs: list[float],
    dpr_tputs: list[float],
    raw_lat: list[float],
    dpr_lat: list[float],
) -> None:
    raw_tput, dpr_tput = statistics.median(raw_tputs), statistics.median(dpr_tputs)
    rows = [
        ("throughput, jobs/s", f"{raw_tput:.0f}", f"{dpr_tput:.0f}", f"ratio {dpr_tput / raw_tput:.0%}"),
        *(latency_row(q, raw_lat, dpr_lat) for q in (50, 99)),
    ]
    print(
        f"# {datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()}, {os.cpu_count()} cores, "
        f"N={n} x {rounds} rounds (median), latency {n_latency} x {rounds} sequential"
    )
    print(
        "# rounds, jobs/s raw: "
        + ", ".join(f"{t:.0f}" for t in raw_tputs)
        + "; dpr: "
        + ", ".join(f"{t:.0f}" for t in dpr_tputs)
    )
    print(f"| {'measure':<20} | {'raw Dask':>9} | {'dpr':>9} | {'':<14} |")
    print(f"|{'-' * 22}|{'-' * 11}|{'-' * 11}|{'-' * 16}|")
    for name, raw, ours, note in rows:
        print(f"| {name:<20} | {raw:>9} | {ours:>9} | {note:<14} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=2000)
    parser.add_argument("--latency", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.n, args.latency, args.rounds))
