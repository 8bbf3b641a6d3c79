"""Start-up time and memory of ``dpr serve`` on the embedded default (SQLite + LocalCluster).

For ``--http-workers`` 1 and 2, ``--rounds`` times each: a real ``dpr serve -c config/dpr.yaml``
in a scratch folder (its SQLite file made by the first round, so later rounds start on a
migrated database, as a restart does), and from the moment the process is started:

- **to /health**: the first ``200`` of the liveness probe (the port is open, the store reached);
- **CPU to /health**: the CPU time (user + system) the server's processes used until then: what
  the wall time comes to on an idle machine, whatever the load of a shared one;
- **to ready**: the first ``200`` of ``/health/ready`` (the embedded cluster is up and runs jobs);
- **to a job**: the first ``successful`` of an echo job submitted as soon as /health answered;
- **RSS / PSS**: of the whole set-up once ready and idle for a second: the server process and
  every process under it (HTTP workers, the cluster's nannies and workers), summed; PSS shares
  pages several processes map among them, so it is what the set-up really costs.

Medians (and the spread) over the rounds, one table; the load average before and after.
Run: ``.venv/bin/python bench/bench_startup.py [--rounds 5] [--http-workers 1,2]``; to compare
installations (``--python`` twice or more), their starts alternate within each round.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.integration.server import free_port  # noqa: E402

sys.path.insert(0, str(Path(__file__).parent))
from machine import cpu_model, cpu_seconds, load_average  # noqa: E402

POLL = 0.01  # seconds between probes


def answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def until(check: object, timeout: float, what: str) -> float:
    """Seconds until ``check()`` is true (raises after ``timeout``)."""
    start = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - start > timeout:
            raise TimeoutError(what)
        time.sleep(POLL)
    return time.monotonic() - start


def memory(root: psutil.Process) -> tuple[float, float, int]:
    """RSS and PSS (MiB) of ``root`` and every process under it, and how many processes."""
    rss = pss = 0.0
    processes = [root, *root.children(recursive=True)]
    for p in processes:
        try:
            info = p.memory_full_info()
        except psutil.Error:
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    return rss / 2**20, pss / 2**20, len(processes)


def one_start(folder: Path, http_workers: int, python: str) -> dict[str, float]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "DPR_LOGGING_LEVEL": "WARNING"}
    argv = [python, "-m", "dpr", "serve", "-c", str(ROOT / "config/dpr.yaml"), "--port", str(port)]
    argv += ["--http-workers", str(http_workers)]
    started = time.monotonic()
    with open(folder / "serve.log", "ab") as log:
        proc = subprocess.Popen(argv, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        until(lambda: answers(f"{base}/health"), 120, "/health")
        health = time.monotonic() - started
        cpu = cpu_seconds(proc.pid, children=True)
        submitted = httpx.post(
            f"{base}/processes/echo/execution",
            json={"inputs": {"echo": "hi"}},
            headers={"Prefer": "respond-async"},
            timeout=120,
        )
        job = submitted.json()["jobID"]
        until(lambda: answers(f"{base}/health/ready"), 120, "/health/ready")
        ready = time.monotonic() - started
        until(lambda: httpx.get(f"{base}/jobs/{job}").json()["status"] == "successful", 120, "the job")
        ran = time.monotonic() - started
        time.sleep(1.0)
        rss, pss, count = memory(psutil.Process(proc.pid))
    finally:
        proc.terminate()
        proc.wait(timeout=60)
    return {"health": health, "cpu": cpu, "ready": ready, "job": ran, "rss": rss, "pss": pss, "processes": count}


def spread(values: list[float], unit: str, digits: int) -> str:
    return f"{statistics.median(values):.{digits}f} {unit} ({min(values):.{digits}f}-{max(values):.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--http-workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument(
        "--python",
        action="append",
        help="the interpreter that runs dpr (default: this one); give it twice or more to compare "
        "installations, their starts interleaved round by round",
    )
    args = parser.parse_args()
    pythons = args.python or [sys.executable]
    before = load_average()
    counts = [int(n) for n in args.http_workers.split(",")]
    cases = [(python, workers) for workers in counts for python in pythons]
    folders = {case: Path(tempfile.mkdtemp(prefix=f"dpr-startup-{case[1]}-")) for case in cases}
    runs: dict[tuple[str, int], list[dict[str, float]]] = {case: [] for case in cases}
    try:
        for workers in counts:
            for n in range(args.rounds):
                for python in pythons:
                    run = one_start(folders[python, workers], workers, python)
                    print(
                        f"  {python} --http-workers {workers} round {n + 1}: /health {run['health']:.2f} s "
                        f"(CPU {run['cpu']:.2f} s), ready {run['ready']:.2f} s, RSS {run['rss']:.0f} MiB, "
                        f"PSS {run['pss']:.0f} MiB, load {load_average()}",
                        flush=True,
                    )
                    runs[python, workers].append(run)
    finally:
        for folder in folders.values():
            shutil.rmtree(folder, ignore_errors=True)
    print()
    print(
        f"# {datetime.now(UTC):%Y-%m-%d}, {os.cpu_count()} cores ({cpu_model()}), "
        f"{psutil.virtual_memory().total / 2**30:.0f} GiB, Python {platform.python_version()}, "
        f"{args.rounds} round(s); load average before {before}, after {load_average()}"
    )
    first = "| python " if len(pythons) > 1 else ""
    print(
        f"{first}| HTTP workers | to /health | CPU to /health | to ready | first job done "
        "| RSS, all processes | PSS, all processes | processes |"
    )
    print("|---" * (8 + (len(pythons) > 1)) + "|")
    for (python, workers), done in runs.items():
        cells = [
            spread([r["health"] for r in done], "s", 2),
            spread([r["cpu"] for r in done], "s", 2),
            spread([r["ready"] for r in done], "s", 2),
            spread([r["job"] for r in done], "s", 2),
            spread([r["rss"] for r in done], "MiB", 0),
            spread([r["pss"] for r in done], "MiB", 0),
            f"{statistics.median([r['processes'] for r in done]):.0f}",
        ]
        print(f"| {python} " * (len(pythons) > 1) + f"| {workers} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
