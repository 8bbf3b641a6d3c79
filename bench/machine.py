"""What the benchmarks say about the machine they ran on, and the CPU time processes used."""

from __future__ import annotations

import platform
from pathlib import Path

import psutil


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def cpu_seconds(pid: int, *, children: bool = False) -> float:
    """User and system CPU time process ``pid`` used so far (and every process under it, as far
    as they are alive, with ``children``)."""
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *(root.children(recursive=True) if children else [])]:
        try:
            times = p.cpu_times()
        except psutil.Error:
            continue
        total += times.user + times.system
    return total
