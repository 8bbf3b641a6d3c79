"""A throw-away PostgreSQL server for tests that stop and restart the database."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy.engine import URL

from tests.integration.server import free_port

PASSWORD = "never-Print-me-42"


def postgres_bin() -> Path | None:
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if folders:
        return Path(folders[-1])
    pg_ctl = shutil.which("pg_ctl")
    return Path(pg_ctl).parent if pg_ctl else None


class PrivateServer:
    """A throw-away PostgreSQL cluster in a temporary folder, on a free port of 127.0.0.1.

    PostgreSQL refuses to run as root, so as root it runs as the ``postgres`` user.
    """

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir, self.port = bin_dir, free_port()
        self.root = Path(tempfile.mkdtemp(prefix="dpr-pg-"))
        self.as_root = os.geteuid() == 0
        if self.as_root:
            shutil.chown(self.root, "postgres", "postgres")
        self.data = self.root / "data"

    def url(self) -> str:
        # Trust auth ignores the password: it is there to prove no message ever shows it.
        url = URL.create("postgresql+psycopg", "postgres", PASSWORD, "127.0.0.1", self.port, "postgres")
        return url.render_as_string(hide_password=False)

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.root / "log"), "-o", options, "-w", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def remove(self) -> None:
        subprocess.run(
            [*self._user(), str(self.bin_dir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"],
            capture_output=True,
            check=False,
        )
        shutil.rmtree(self.root, ignore_errors=True)

    def _user(self) -> list[str]:
        return ["runuser", "-u", "postgres", "--"] if self.as_root else []

    def _run(self, tool: str, *args: str) -> None:
        subprocess.run([*self._user(), str(self.bin_dir / tool), *args], check=True, capture_output=True, timeout=60)


@contextmanager
def private_postgres() -> Iterator[PrivateServer]:
    """A started private server, removed afterwards. Skips without PostgreSQL binaries, except
    under CI, where the tests must run."""
    import pytest

    bin_dir = postgres_bin()
    if bin_dir is None:
        if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
            pytest.fail("CI=true but no PostgreSQL binaries (initdb, pg_ctl) were found")
        pytest.skip("no PostgreSQL binaries (initdb, pg_ctl) to start a private server")
    server = PrivateServer(bin_dir)
    try:
        server.init()
        server.start()
        yield server
    finally:
        server.remove()
