"""Does a busy server stay responsive? ``/health`` latency on a real ``dpr serve`` process:

- idle (the baseline);
- with 800 log streams (server-sent events) held open by one client (caps raised for the run);
- while large HTML pages (a 300 kB result, cut to 20 kB when rendered) are fetched back to back.

Prints a table (p50, p95, max in ms); nothing is asserted: compare the rows.
Run: ``.venv/bin/python bench/bench_limits.py [--streams 800] [--samples 200]``.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.server import running_server

BIG = "[" + ", ".join(f'{{"row": {i}, "payload": "{"x" * 40}"}}' for i in range(5000)) + "]"


async def health_latencies(client: httpx.AsyncClient, samples: int) -> list[float]:
    out = []
    for _ in range(samples):
        started = time.perf_counter()
        assert (await client.get("/health")).status_code == 200
        out.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.005)
    return out


async def hold_stream(client: httpx.AsyncClient, path: str, opened: asyncio.Event, count: list[int], n: int) -> None:
    async with client.stream("GET", path, headers={"Accept": "text/event-stream"}) as response:
        assert response.status_code == 200, response.status_code
        count[0] += 1
        if count[0] == n:
            opened.set()
        async for _ in response.aiter_bytes():
            pass


async def large_pages(client: httpx.AsyncClient, path: str, stop: asyncio.Event, sizes: list[int]) -> None:
    while not stop.is_set():
        sizes.append(len((await client.get(path, params={"f": "html"})).content))


def row(name: str, values: list[float]) -> str:
    q = statistics.quantiles(values, n=20)
    return f"| {name} | {statistics.median(values):.1f} | {q[18]:.1f} | {max(values):.1f} |"


async def measure(url: str, streams: int, samples: int) -> list[str]:
    limits = httpx.Limits(max_connections=streams + 20, max_keepalive_connections=streams + 20)
    async with httpx.AsyncClient(base_url=url, timeout=120, limits=limits) as client:
        rows = [row("idle", await health_latencies(client, samples))]
        job = (
            await client.post(
                "/processes/mockup/execution", json={"inputs": {"duration": 600}}, headers={"Prefer": "respond-async"}
            )
        ).json()
        logs, opened, count = f"/jobs/{job['jobID']}/logs", asyncio.Event(), [0]
        holders = [asyncio.create_task(hold_stream(client, logs, opened, count, streams)) for _ in range(streams)]
        await asyncio.wait_for(opened.wait(), 120)
        rows.append(row(f"{streams} open log streams", await health_latencies(client, samples)))
        for task in holders:
            task.cancel()
        await asyncio.gather(*holders, return_exceptions=True)
        done = await client.post(
            "/processes/echo/execution",
            json={"inputs": {"echo": BIG}, "response": "document"},
            headers={"Prefer": "respond-async"},
        )
        page = f"/jobs/{done.json()['jobID']}"
        await asyncio.sleep(1)
        stop, sizes = asyncio.Event(), []
        fetcher = asyncio.create_task(large_pages(client, page, stop, sizes))
        rows.append(row("large pages fetched meanwhile", await health_latencies(client, samples)))
        stop.set()
        await fetcher
        rows.append(f"| (page size {max(sizes) // 1000} kB, {len(sizes)} pages) | | | |")
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--streams", type=int, default=800)
    parser.add_argument("--samples", type=int, default=200)
    args = parser.parse_args()
    env = {
        "DPR_LIMITS_MAX_STREAMS": str(args.streams + 10),
        "DPR_LIMITS_MAX_STREAMS_PER_CLIENT": str(args.streams + 10),
    }
    with running_server("--ephemeral", env=env, timeout=60) as url:
        rows = asyncio.run(measure(url, args.streams, args.samples))
    print("| /health while | p50 ms | p95 ms | max ms |\n| --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
