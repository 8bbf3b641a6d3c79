"""Where the Dask executor gets its cluster: an embedded LocalCluster or a running scheduler.

A source hands out one asynchronous ``distributed.Client``. ``durable`` says whether the cluster
outlives this process (then jobs keep running across API restarts and are re-adopted).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import dask
from distributed import Client, LocalCluster

from dpr.domain.errors import Unavailable

CLUSTER_PROCESS = "the embedded dask cluster's process"
# A worker dying under a job fails its task at once; the executor re-runs it while the job's
# ``retries`` allow (Dask's default would re-run it up to three times first).
ALLOWED_FAILURES = "distributed.scheduler.allowed-failures"


class ClusterSource(ABC):
    """Opens and closes the connection to one cluster."""

    durable: bool = True

    @abstractmethod
    async def connect(self) -> Client:
        """An asynchronous client connected to the cluster. Raises ``Unavailable``."""

    async def close(self) -> None:
        """Release what ``connect`` created besides the client (the client is closed first)."""

    def dashboard_link(self) -> str | None:
        return None

    async def verify(self, cluster_name: str | None) -> None:
        """Raise ``Unavailable`` unless this source's credentials may reach the connected
        cluster ``cluster_name`` (asked of whoever guards it). The default trusts the caller."""


# What a worker process may inherit from the service's environment besides the variables the
# configured processors declare: the basics of running Python and native EO libraries.
BASIC_ENV = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TEMP",
    "TMP",
    "SHELL",
    "PYTHONPATH",
    "PYTHONHASHSEED",
    "VIRTUAL_ENV",
    "OMP_NUM_THREADS",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
)
BASIC_PREFIXES = ("LC_", "DASK_", "MKL_", "OPENBLAS_", "GDAL_", "PROJ_", "CPL_")


def worker_environment(environ: dict[str, str], keep: set[str]) -> dict[str, str]:
    """The part of ``environ`` a worker process gets: basics plus the names in ``keep``.

    Everything else (the database URL, the service's own tokens, unrelated cloud keys) stays in
    the service: the original rs-dpr-service shipped its whole environment to every task.
    """
    return {k: v for k, v in environ.items() if k in keep or k in BASIC_ENV or k.startswith(BASIC_PREFIXES)}


@contextmanager
def scrubbed_environment(keep: set[str]) -> Iterator[None]:
    """Narrow ``os.environ`` while worker processes are spawned (they copy it), then restore it."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(worker_environment(saved, keep))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@contextmanager
def children_ignore_interrupts() -> Iterator[None]:
    """Spawn processes that ignore SIGINT: Ctrl-C in a terminal reaches the whole process group,
    and the workers must wait for the service to close the cluster, not die mid-job with a
    traceback. (Python keeps an inherited SIG_IGN for SIGINT.)"""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


class LocalClusterSource(ClusterSource):
    """An embedded ``LocalCluster``: worker processes of this machine that end with the service.

    Worker processes inherit only ``worker_environment``: basics plus ``keep_env`` (the
    variables the configured processors declare they need). With ``own_process`` the
    scheduler and the workers' nannies run in a process of their own (``cluster_process``,
    which gets the same narrowed environment) instead of in this process's event loop, where
    they would share one thread with everything the service does; it ends with the service.
    Should it end first (killed), ``on_lost`` is called with the reason: the client cannot
    follow a new process's scheduler, so the service had better stop and start anew.
    """

    durable = False

    def __init__(
        self,
        *,
        workers: int = 2,
        threads_per_worker: int = 1,
        memory_limit: str | float = "auto",
        processes: bool = True,
        dashboard: bool = False,
        keep_env: Iterable[str] = (),
        own_process: bool = False,
        timeout: float = 120.0,
        on_lost: Callable[[str], None] | None = None,
    ) -> None:
        self.workers, self.threads_per_worker, self.memory_limit = workers, threads_per_worker, memory_limit
        self.keep_env = set(keep_env)
        self.processes, self.dashboard, self.own_process, self.timeout = processes, dashboard, own_process, timeout
        self._cluster: LocalCluster | None = None
        self._shared: LocalCluster | None = None
        self._process: asyncio.subprocess.Process | None = None
        self._channel: asyncio.StreamWriter | None = None  # kept open while the process should run
        self._process_dashboard: str | None = None
        self._on_lost = on_lost
        self._watcher: asyncio.Task[None] | None = None

    async def connect(self) -> Client:
        if self.own_process:
            address = await self._start_process()
            try:
                return await Client(address, asynchronous=True, set_as_default=False, timeout=self.timeout)
            except (TimeoutError, OSError) as e:
                await self.close()
                raise Unavailable(CLUSTER_PROCESS, f"{address}: {e}") from e
        with self._spawning():
            self._cluster = await self._start_cluster()
        return await Client(self._cluster, asynchronous=True, set_as_default=False)

    async def _start_process(self) -> str:
        """Start ``cluster_process`` and return its scheduler's address once it is up."""
        from dpr.adapters.dask.cluster_process import command

        argv = command(sys.executable, sys.path, self._options(0), {ALLOWED_FAILURES: 0})
        ours, theirs = socket.socketpair()  # its standard input: the address, then its lifeline
        try:
            self._process = process = await asyncio.create_subprocess_exec(
                *argv, stdin=theirs.fileno(), env=worker_environment(dict(os.environ), self.keep_env)
            )
        finally:
            theirs.close()
        reader, self._channel = await asyncio.open_connection(sock=ours)
        try:
            line = await asyncio.wait_for(reader.readline(), self.timeout)
        except (TimeoutError, OSError):
            line = b""
        if not line:
            await self.close()
            raise Unavailable(CLUSTER_PROCESS, f"it did not start (exit code {process.returncode})")
        ready = json.loads(line)
        self._process_dashboard = ready.get("dashboard")
        self._watcher = asyncio.ensure_future(self._watch(process))
        return str(ready["address"])

    async def _watch(self, process: asyncio.subprocess.Process) -> None:
        code = await process.wait()
        if self._process is process and self._on_lost is not None:  # not ended by close()
            self._on_lost(f"{CLUSTER_PROCESS} ended (exit code {code})")

    @contextmanager
    def _spawning(self) -> Iterator[None]:
        with (
            dask.config.set({ALLOWED_FAILURES: 0}),
            scrubbed_environment(self.keep_env),
            children_ignore_interrupts(),
        ):
            yield

    async def _start_cluster(self) -> LocalCluster:
        return await LocalCluster(**self._options(0), asynchronous=True)

    def _options(self, port: int) -> dict[str, Any]:
        return {
            "n_workers": self.workers,
            "threads_per_worker": self.threads_per_worker,
            "memory_limit": self.memory_limit,
            "processes": self.processes,
            "host": "127.0.0.1",
            "protocol": "tcp://",
            "scheduler_port": port,
            # The scheduler always serves HTTP (health, metrics): on a free port, never on a
            # taken 8787; the dashboard pages only on request (they need bokeh).
            "dashboard_address": "127.0.0.1:0",
            "scheduler_kwargs": {"dashboard": self.dashboard},
        }

    def start_shared(self) -> str:
        """Start the cluster for other processes of this service, without an event loop of the
        caller's (the parent of ``--http-workers``, which serves through them); returns the
        scheduler's address, for their ``SchedulerSource(address, durable=False)``. Call from
        the main thread, so that Ctrl-C reaches the service, not its workers."""
        with self._spawning():
            self._shared = LocalCluster(**self._options(0), asynchronous=False)
        return str(self._shared.scheduler_address)

    def stop_shared(self) -> None:
        """Stop what ``start_shared`` started (once the processes using it stopped)."""
        if self._shared is not None:
            self._shared.close()
            self._shared = None

    async def close(self) -> None:
        if self._cluster is not None:
            closing = self._cluster.close()  # an awaitable, the cluster being asynchronous
            if closing is not None:
                await closing
            self._cluster = None
        if self._channel is not None:
            self._channel.close()  # the process closes its cluster and ends
            self._channel = None
        if self._watcher is not None:
            self._watcher.cancel()
            self._watcher = None
        if self._process is not None:
            process, self._process = self._process, None
            try:
                await asyncio.wait_for(process.wait(), self.timeout)
            except TimeoutError:
                process.kill()
                await process.wait()

    def dashboard_link(self) -> str | None:
        if self.own_process:
            return self._process_dashboard
        return self._cluster.dashboard_link if self._cluster is not None and self.dashboard else None


class SchedulerSource(ClusterSource):
    """A running ``dask scheduler`` at ``address`` (``tcp://host:8786``); ``durable=False`` for
    the embedded cluster another process of this service runs (``SharedLocalCluster``)."""

    def __init__(
        self, address: str, *, timeout: float = 10.0, dashboard: str | None = None, durable: bool = True
    ) -> None:
        self.address, self.timeout, self._dashboard, self.durable = address, timeout, dashboard, durable
        self._client: Client | None = None

    async def connect(self) -> Client:
        try:
            self._client = await Client(self.address, asynchronous=True, set_as_default=False, timeout=self.timeout)
        except (TimeoutError, OSError) as e:
            raise Unavailable("dask scheduler", f"{self.address}: {e}") from e
        return self._client

    def dashboard_link(self) -> str | None:
        if self._dashboard is not None:
            return self._dashboard
        return _dashboard_of(self._client)


def _dashboard_of(client: Client | None) -> str | None:
    """The scheduler's web address as it reports it (its dashboard, when bokeh is installed)."""
    if client is None:
        return None
    try:
        return client.dashboard_link
    except (KeyError, TypeError):  # the scheduler serves no HTTP
        return None
