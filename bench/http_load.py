"""Driving ``wrk`` (Debian's package: ``apt-get install -y wrk``) against a dpr server on loopback.

wrk is a C load generator with keep-alive connections: on a 2-core machine it leaves far more
CPU to the server than a Python client would. A Lua ``done`` hook prints the numbers as JSON.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPORT = """
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('RESULT {"requests": %d, "seconds": %f, "socket_errors": %d, ' ..
    '"bad_status": %d, "p50_us": %d, "p99_us": %d}\\n',
    summary.requests, summary.duration / 1e6, e.connect + e.read + e.write + e.timeout, e.status,
    latency:percentile(50), latency:percentile(99)))
end
"""

ROTATE = """
local paths = {%s}
local i = 0
request = function()
  i = i %% #paths + 1
  return wrk.format(nil, paths[i])
end
"""

POST = """
wrk.method = "POST"
wrk.body = '%s'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Prefer"] = "respond-async"
"""


@dataclass(frozen=True)
class Load:
    """What one wrk run measured."""

    requests: int
    seconds: float
    socket_errors: int
    bad_status: int  # answers other than 2xx/3xx
    p50_ms: float
    p99_ms: float

    @property
    def ok_per_second(self) -> float:
        return (self.requests - self.bad_status) / self.seconds


def require_wrk() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("bench_store.py needs wrk on PATH: apt-get install -y wrk (Debian/Ubuntu)")
    return found


def run_wrk(
    base: str,
    paths: list[str],
    *,
    seconds: float,
    connections: int = 1,
    threads: int = 1,
    post_body: str | None = None,
    headers: dict[str, str] | None = None,
) -> Load:
    """Request ``paths`` in turn (GET, or POST ``post_body`` with ``Prefer: respond-async``),
    sending ``headers`` with every request."""
    script = REPORT + (POST % post_body if post_body is not None else "")
    script += "".join(f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}\n" for k, v in (headers or {}).items())
    if len(paths) > 1:
        script += ROTATE % ", ".join(json.dumps(p) for p in paths)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as lua:
        lua.write(script)
    try:
        command = [
            require_wrk(),
            f"-t{threads}",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--timeout",
            "10s",
            "-s",
            lua.name,
            base + paths[0],
        ]
        out = subprocess.run(command, capture_output=True, text=True, check=True, timeout=seconds + 60).stdout
    finally:
        Path(lua.name).unlink(missing_ok=True)
    line = next((line for line in out.splitlines() if line.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out}")
    raw = json.loads(line.removeprefix("RESULT "))
    return Load(
        requests=raw["requests"],
        seconds=raw["seconds"],
        socket_errors=raw["socket_errors"],
        bad_status=raw["bad_status"],
        p50_ms=raw["p50_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
    )
