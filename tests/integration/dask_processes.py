"""A ``dask scheduler`` and ``dask worker`` processes, started by the tests as children."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

from tests.integration.server import free_port, wait_for_port

DASK = str(Path(sys.executable).with_name("dask"))


class Cluster:
    """A scheduler and its workers as child processes of the test run.

    The scheduler runs with its default settings (the variables ``DASK_*`` of the test run are
    not passed on) plus ``scheduler_config`` (e.g. ``{"DASK_DISTRIBUTED__ADMIN__LOW_LEVEL_LOG_LENGTH":
    "100000"}``).
    """

    def __init__(self, folder: Path, scheduler_config: Mapping[str, str] | None = None) -> None:
        self.folder, self.port = folder, free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.workers: dict[str, subprocess.Popen[bytes]] = {}
        env = {k: v for k, v in os.environ.items() if not k.startswith("DASK_")} | dict(scheduler_config or {})
        self.scheduler = self._spawn(
            "scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port), "--no-dashboard"], env
        )
        try:
            wait_for_port(self.port)
        except BaseException:
            self.stop()
            raise

    def add_worker(self, threads: int = 1) -> str:
        port = free_port()
        address = f"tcp://127.0.0.1:{port}"
        self.workers[address] = self._spawn(
            f"worker-{port}",
            [
                DASK,
                "worker",
                self.address,
                "--host",
                "127.0.0.1",
                "--worker-port",
                str(port),
                "--nthreads",
                str(threads),
                "--no-nanny",
                "--no-dashboard",
                "--death-timeout",
                "30",
                "--local-directory",
                str(self.folder),
            ],
            dict(os.environ),
        )
        return address

    def kill_worker(self, address: str) -> None:
        process = self.workers.pop(address)
        process.kill()
        process.wait()

    def stop(self) -> None:
        """Workers first (a worker whose scheduler vanished first waits to reconnect)."""
        for process in [*self.workers.values(), self.scheduler]:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        with open(self.folder / f"{name}.log", "wb") as out:
            return subprocess.Popen(argv, cwd=self.folder, env=env, stdout=out, stderr=subprocess.STDOUT)
