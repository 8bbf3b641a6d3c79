"""``dpr serve`` processes that a test starts, kills (SIGKILL) and stops (SIGTERM) at will:
several instances of one service on one store."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from tests.integration.server import ROOT, free_port, python_path, stop, wait_healthy


class Instance:
    """One ``dpr serve --config <config>`` process on a port of its own; ``start`` again after
    ``kill`` or ``terminate`` runs a new process (a new instance id) on a new port."""

    def __init__(self, name: str, config: Path, folder: Path) -> None:
        self.name, self.config, self.folder = name, config, folder
        self.process: subprocess.Popen[bytes] | None = None
        self.url = ""
        self.starts = 0

    @property
    def up(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self, timeout: float = 120) -> None:
        port = free_port()
        self.starts += 1
        log_path = self.folder / f"{self.name}-{self.starts}.log"
        env = {**os.environ, "PYTHONPATH": python_path()}
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "dpr", "serve", "--config", str(self.config), "--port", str(port)],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
            )
        self.url = f"http://127.0.0.1:{port}"
        wait_healthy(self.url, self.process, log_path, timeout)

    def kill(self) -> None:
        """A crash: SIGKILL, nothing is handed on."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def terminate(self) -> None:
        """A clean stop (SIGTERM), as an orchestrator does before it replaces the instance."""
        if self.process is not None and self.process.poll() is None:
            stop(self.process, timeout=60)
