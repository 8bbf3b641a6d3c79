"""Per-job overhead of running an EOPF payload through dpr, against ``eopf trigger local`` by hand.

The payload is the shipped synthetic one (``examples/eopf/synthetic``, EOImageGeneratorUnit),
rewritten as dpr rewrites it for a run without a Dask cluster, each run writing a new product.
Interleaved run by run, so every side sees the same machine load:

- **by hand**: ``eopf trigger local --working-dir DIR payload.yaml`` in the EOPF environment,
  the prepared payload already in DIR (wall time of the command);
- **dpr, in-process**: the ``eopf`` process through the submission service with the in-process executor
  (as ``dpr serve --ephemeral``), the payload folder local: execute, then wait until recorded;
- **dpr, Dask**: the same through an embedded LocalCluster (one worker process).

Also timed: ``python -c "import eopf"`` in the EOPF environment, the part of every run a warm
worker would save.

Run: ``.venv/bin/python bench/bench_eopf.py --venv $DPR_EOPF_VENV [-n 20]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from contextlib import AsyncExitStack
from datetime import UTC, datetime
from pathlib import Path

from dependency_injector import providers

from dpr.adapters.dask import DaskExecutor, LocalClusterSource
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.processors import eopf_payload as payloads
from dpr.adapters.processors.eopf_env import EopfEnvironment
from dpr.adapters.settings import (
    ExecutorSettings,
    LocationSettings,
    ProcessDefinition,
    ProcessSettings,
    Settings,
    StorageSettings,
)
from dpr.domain.execute import ExecuteBody
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from dpr.entrypoints.container import Container, build_container, running

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "eopf" / "synthetic" / "payload.yaml"
ASYNC = Preference(respond_async=True)


def payload_for(output: Path, prepared: bool) -> str:
    text = EXAMPLE.read_text().replace("/tmp/dpr-eopf-example/generated.zarr", str(output))
    if not prepared:
        return text
    return payloads.dump_payload(payloads.prepare(payloads.load_payload(text), payloads.DaskPlan(kind="none")))


def by_hand(venv: Path, scratch: Path, i: int) -> float:
    folder = scratch / f"hand-{i}"
    folder.mkdir()
    (folder / "payload.yaml").write_text(payload_for(scratch / f"hand-{i}.zarr", prepared=True))
    environment = EopfEnvironment(venv=str(venv))
    home = folder / "home"
    home.mkdir()
    argv = environment.command("trigger", "local", "--working-dir", str(folder), str(folder / "payload.yaml"))
    t0 = time.perf_counter()
    subprocess.run(
        argv, cwd=folder, env=environment.child_env({}, {}, str(home)), capture_output=True, check=True, text=True
    )
    return time.perf_counter() - t0


class Service:
    """The services the container builds for one ``eopf`` process, started and stopped as
    ``dpr serve`` does, on in-memory stores and the given executor."""

    def __init__(self, executor: object, venv: Path, scratch: Path, warm: bool = False) -> None:
        definition = ProcessDefinition(
            id="eopf",
            processor="dpr.adapters.processors.eopf:EopfProcessor",
            options={"venv": str(venv), "work_dir": str(scratch / "work"), "dask": "job_cluster", "warm": warm},
        )
        settings = Settings(
            storage=StorageSettings(url="memory://"),
            executor=ExecutorSettings(kind="fake"),
            processes=ProcessSettings(definitions=[definition]),
            locations=LocationSettings(allow=[f"file://{scratch}"]),
        )
        self.container: Container = build_container(settings)
        self.container.executor.override(providers.Object(executor))
        self.submission, self.queries = self.container.submission(), self.container.queries()
        self._stack = AsyncExitStack()

    async def start(self) -> None:
        await self._stack.enter_async_context(running(self.container))

    async def close(self) -> None:
        await self._stack.aclose()


async def through_dpr(service: Service, scratch: Path, name: str) -> float:
    folder = scratch / name
    folder.mkdir()
    (folder / "payload.yaml").write_text(payload_for(scratch / f"{name}.zarr", prepared=False))
    inputs = {"s3_config_dir": str(folder), "payload_subpath": "payload.yaml"}
    t0 = time.perf_counter()
    job = (await service.submission.execute("eopf", ExecuteBody(inputs=inputs), ASYNC)).job
    job = await service.queries.wait(job.job_id, 600)
    elapsed = time.perf_counter() - t0
    assert job.status is JobStatus.SUCCESSFUL, job.error
    return elapsed


def import_eopf(venv: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run([str(venv / "bin" / "python"), "-c", "import eopf"], check=True, capture_output=True)
    return time.perf_counter() - t0


async def main(venv: Path, n: int) -> None:
    scratch = Path(tempfile.mkdtemp(prefix="dpr-bench-eopf-"))
    inproc = Service(FakeExecutor(), venv, scratch)
    dask = Service(DaskExecutor(LocalClusterSource(workers=1, threads_per_worker=2)), venv, scratch)
    warm = Service(FakeExecutor(), venv, scratch, warm=True)
    for service in (inproc, dask, warm):
        await service.start()
    try:
        by_hand(venv, scratch, -1)  # warm-up: file caches, the workers' first imports
        await through_dpr(inproc, scratch, "warm-inproc")
        await through_dpr(dask, scratch, "warm-dask")
        await through_dpr(warm, scratch, "warm-warm")  # starts the process that keeps EOPF imported
        sides: dict[str, list[float]] = {"eopf trigger by hand": [], "dpr, in-process": [], "dpr, Dask worker": []}
        sides["dpr, warm (in-process)"] = []
        imports: list[float] = []
        for i in range(n):
            sides["eopf trigger by hand"].append(by_hand(venv, scratch, i))
            sides["dpr, in-process"].append(await through_dpr(inproc, scratch, f"inproc-{i}"))
            sides["dpr, Dask worker"].append(await through_dpr(dask, scratch, f"dask-{i}"))
            sides["dpr, warm (in-process)"].append(await through_dpr(warm, scratch, f"warm-{i}"))
            imports.append(import_eopf(venv))
    finally:
        for service in (inproc, dask, warm):
            await service.close()
        shutil.rmtree(scratch, ignore_errors=True)
    report(n, sides, imports)


def report(n: int, sides: dict[str, list[float]], imports: list[float]) -> None:
    load = os.getloadavg()[0]
    print(
        f"# {datetime.now(UTC):%Y-%m-%d}, Python {platform.python_version()} (dpr), {os.cpu_count()} cores, "
        f"{n} runs per side, interleaved; load average {load:.1f} at the end"
    )
    print(f"| {'per job, s':<22} | {'median':>6} | {'mean':>6} | {'p90':>6} | {'vs by hand (median)':>19} |")
    print(f"|{'-' * 24}|{'-' * 8}|{'-' * 8}|{'-' * 8}|{'-' * 21}|")
    base = statistics.median(sides["eopf trigger by hand"])
    for name, values in sides.items():
        p90 = statistics.quantiles(values, n=10, method="inclusive")[-1]
        added = statistics.median(values) - base
        note = "" if name == "eopf trigger by hand" else f"{added:+.2f} s ({added / base:+.0%})"
        print(
            f"| {name:<22} | {statistics.median(values):>6.2f} | {statistics.mean(values):>6.2f} | {p90:>6.2f} "
            f"| {note:>19} |"
        )
    print(f"| {'python -c import eopf':<22} | {statistics.median(imports):>6.2f} | {statistics.mean(imports):>6.2f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--venv", type=Path, default=os.environ.get("DPR_EOPF_VENV"), required=False)
    parser.add_argument("-n", type=int, default=20)
    args = parser.parse_args()
    if args.venv is None:
        parser.error("give the EOPF environment with --venv or DPR_EOPF_VENV (dpr eopf install)")
    asyncio.run(main(Path(args.venv).absolute(), args.n))
