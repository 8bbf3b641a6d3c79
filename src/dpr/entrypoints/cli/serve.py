"""``dpr serve``: run the HTTP service."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import ipaddress
import logging
import logging.config
import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import click
import msgspec

from dpr.adapters.catalog import CatalogError
from dpr.adapters.config import ConfigError, redact_url
from dpr.adapters.geoapi_config import load_config
from dpr.adapters.settings import Settings, ephemeral
from dpr.domain.errors import Unavailable
from dpr.entrypoints.cli.errors import CliError, Exit, UsageError
from dpr.entrypoints.log_format import LOG_FORMAT

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger("dpr")

# Where the parent of ``--http-workers`` processes hands them its effective settings.
WORKER_SETTINGS = "DPR_SERVE_WORKER_SETTINGS"
WORKER_HEALTHCHECK = 60  # seconds an HTTP worker may take to answer its supervisor's ping


def log_config(level: str) -> dict[str, Any]:
    """One format for every line the server logs: dpr's, Alembic's, Litestar's and uvicorn's.

    Applied after the app is built (Litestar configures logging of its own then) and given to
    uvicorn as its ``log_config``, so each HTTP worker process logs alike.
    """
    own = {"handlers": [], "propagate": True}  # their lines go to the root's handler
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"dpr": {"()": "dpr.entrypoints.log_format.EscapingFormatter", "fmt": LOG_FORMAT}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "dpr", "stream": "ext://sys.stderr"}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
        "loggers": {
            **{name: own for name in ("litestar", "uvicorn", "uvicorn.error", "uvicorn.access")},
            "alembic.runtime.plugins": {"level": "WARNING"},  # one line per plugin it loads: noise
        },
    }


def resolve_settings(config: str | None, **overrides: Any) -> Settings:
    """Settings from the file and environment, then the command line's explicit options."""
    settings = load_config(config)  # dpr's YAML, or rs-dpr-service's geoapi.yaml
    server = {k: v for k, v in overrides.items() if k in ("host", "port") and v is not None}
    if server:
        settings = msgspec.structs.replace(settings, server=msgspec.structs.replace(settings.server, **server))
    if overrides.get("workers") is not None:
        settings = msgspec.structs.replace(
            settings, executor=msgspec.structs.replace(settings.executor, workers=overrides["workers"])
        )
    if overrides.get("ephemeral"):
        settings = ephemeral(settings)
    if overrides.get("allow_anonymous"):
        auth = msgspec.structs.replace(settings.auth, allow_anonymous_remote=True)
        settings = msgspec.structs.replace(settings, auth=auth)
    return settings


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def exposure_warning(settings: Settings) -> str | None:
    """Refuse (``ValueError``) anonymous access on an address beyond loopback unless the
    operator allowed it (``auth.allow_anonymous_remote`` / ``--allow-anonymous``); the
    warning to log when allowed, else ``None``."""
    if not settings.auth.anonymous or is_loopback(settings.server.host):
        return None
    exposed = f"anonymous access on {settings.server.host}: anyone who reaches it sees and dismisses every job"
    if not settings.auth.allow_anonymous_remote:
        raise ValueError(
            f"refusing {exposed}. Set auth.methods (DPR_AUTH_METHODS=api_key with keys from `dpr keys create`, "
            "and/or oidc with auth.oidc.issuer and audience), "
            "or allow it with --allow-anonymous (auth.allow_anonymous_remote: true)."
        )
    return f"serving {exposed} (allowed by auth.allow_anonymous_remote)"


@click.command()
@click.option(
    "-c",
    "--config",
    type=click.Path(dir_okay=False),
    envvar="DPR_CONFIG",
    help="YAML configuration file [env: DPR_CONFIG].",
)
@click.option("--host", help="Address to listen on [default: from config, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [default: from config, 8000].")
@click.option("--workers", type=click.IntRange(1, 256), help="Workers of the embedded executor.")
@click.option(
    "--http-workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    envvar="DPR_HTTP_WORKERS",
    help="HTTP server processes sharing the port [env: DPR_HTTP_WORKERS]. More than 1 needs a "
    "PostgreSQL (or SQLite) store; each is an instance with its own lease, following the jobs it "
    "accepted. On the embedded cluster (executor.kind local) they share one LocalCluster.",
)
@click.option(
    "--ephemeral", is_flag=True, help="Keep jobs in memory and run them in-process: nothing survives a restart."
)
@click.option(
    "--allow-anonymous",
    is_flag=True,
    help="Serve without authentication on an address beyond loopback (auth.allow_anonymous_remote).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"]),
    default=None,
    help="Log verbosity [default: from config, info].",
)
def serve(
    config: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    http_workers: int,
    ephemeral: bool,
    allow_anonymous: bool,
    log_level: str | None,
) -> None:
    """Run the OGC API - Processes server.

    Start-up waits up to storage.connect_timeout for the database, then gives up with one
    line naming it (exit code 3). Without auth.methods (anonymous access) it listens only on
    a loopback address unless --allow-anonymous is given.

    SIGTERM or Ctrl-C drains first: new executions get 503, /health/ready turns unready, jobs
    on a durable cluster are handed over and those on the embedded one waited for up to
    server.grace_period; a second signal stops at once.
    """
    try:
        settings = resolve_settings(
            config, host=host, port=port, workers=workers, ephemeral=ephemeral, allow_anonymous=allow_anonymous
        )
        exposed = exposure_warning(settings)
        check_http_workers(settings, http_workers)
        # prepare_storage migrates once, before serving: the app (or each worker) need not.
        migrated = msgspec.structs.replace(
            settings, storage=msgspec.structs.replace(settings.storage, migrate_on_start=False)
        )
        app = _app(migrated) if http_workers == 1 else None  # the workers' parent serves none itself
    except (ConfigError, CatalogError, ValueError) as e:
        raise UsageError(str(e)) from None
    level = (log_level or settings.logging.level).upper()
    logging.config.dictConfig(log_config(level))
    if exposed:
        log.warning(exposed)
    prepare_storage(settings)
    announce = (
        f"dpr serving on http://{settings.server.host}:{settings.server.port} "
        f"(storage {redact_url(settings.storage.url)}, executor {settings.executor.kind}, "
        f"{http_workers} HTTP worker(s), pid {os.getpid()})"
    )
    options: dict[str, Any] = {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_level": level.lower(),
        "log_config": log_config(level),
        "access_log": level == "DEBUG",
        # uvicorn's httptools protocol sending a response's head and body in one write
        "http": "dpr.entrypoints.http.wire:HttpProtocol",
        "ws": "none",  # dpr has no WebSocket routes: an upgrade request is answered as plain HTTP
        "server_header": False,  # no "server: uvicorn" on every answer: it tells a prober what to try
    }
    if app is not None:
        run_http(app, announce, **options)
        return
    with shared_embedded_cluster(migrated) as shared:
        # Workers are new interpreters: they get the settings resolved here, already migrated.
        os.environ[WORKER_SETTINGS] = msgspec.json.encode(shared).decode()
        run_http(f"{__name__}:worker_app", announce, factory=True, workers=http_workers, **options)


@contextlib.contextmanager
def shared_embedded_cluster(settings: Settings) -> Iterator[Settings]:
    """The settings of ``--http-workers`` processes: on the embedded cluster, one LocalCluster
    started here for them all (they connect to its scheduler), stopped once they stopped."""
    from dpr.entrypoints.container import shared_cluster

    if settings.executor.kind != "local" or settings.executor.address is not None:
        yield settings
        return
    with shared_cluster(settings) as shared:
        log.info("embedded Dask cluster for the HTTP workers at %s", shared.executor.address)
        yield shared


def run_http(app: Any, announce: str, **options: Any) -> None:
    """Serve ``app`` with uvicorn; print ``announce`` once the port listens (not before: a port
    in use or an app that fails to start ends the command without it)."""
    import uvicorn
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    if options.get("workers", 1) > 1 and "timeout_worker_healthcheck" in inspect.signature(uvicorn.Config).parameters:
        # The supervisor kills a worker that does not answer its ping in time (5 s by default)
        # and starts another: on a busy machine a worker still importing would never live.
        options = {**options, "timeout_worker_healthcheck": WORKER_HEALTHCHECK}
    config = uvicorn.Config(app, **options)
    if config.workers > 1:
        sock = config.bind_socket()
        sock.listen(config.backlog)  # connections wait in its queue until a worker takes them
        click.echo(announce, err=True)
        Multiprocess(config, sockets=[sock]).run()
        return
    server = _announcing_server()(config, announce)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def check_http_workers(settings: Settings, count: int) -> None:
    """Refuse a worker count the configuration cannot serve correctly (``ValueError``)."""
    from dpr.entrypoints.container import storage_kind, storage_url

    if count == 1:
        return
    if storage_kind(settings) == "memory":
        raise ValueError(
            "--http-workers above 1 needs a database (storage.url): each worker would keep its own jobs in memory"
        )
    if storage_url(settings).startswith("sqlite"):
        click.echo("warning: SQLite takes one writer at a time; one HTTP worker is usually faster", err=True)


def prepare_storage(settings: Settings) -> None:
    """Wait for the database and migrate it, before serving (once, for all the workers about
    to start; each settles the jobs an earlier run left active as it takes their leases over).

    Raises ``CliError`` (exit code 3) with one line naming the database when it does not
    answer within ``storage.connect_timeout``.
    """
    from dpr.entrypoints.container import storage_kind

    if storage_kind(settings) == "memory":
        return
    try:
        asyncio.run(_prepare(settings))
    except Unavailable as e:
        raise CliError(f"cannot start: {e.describe()}", Exit.UNAVAILABLE) from None


async def _prepare(settings: Settings) -> None:
    from dpr.entrypoints.container import build_container, running

    async with running(build_container(settings), storage_only=True):
        pass


def _app(settings: Settings) -> Litestar:
    from dpr.entrypoints.http.app import create_app

    return create_app(settings, serving=True)


def worker_app() -> Litestar:
    """The app of one ``--http-workers`` process (a uvicorn factory), on the parent's settings:
    an instance of its own, with its own lease."""
    from dpr.entrypoints.http.app import create_app

    settings = msgspec.json.decode(os.environ[WORKER_SETTINGS], type=Settings)
    app = create_app(settings, serving=True)
    logging.config.dictConfig(log_config(settings.logging.level))
    return app


def _announcing_server() -> type:
    import uvicorn

    class AnnouncingServer(uvicorn.Server):
        """A uvicorn server that prints a line once it listens."""

        def __init__(self, config: uvicorn.Config, announce: str) -> None:
            super().__init__(config)
            self.announce = announce

        async def startup(self, sockets: list[Any] | None = None) -> None:
            await super().startup(sockets)
            if self.started:
                click.echo(self.announce, err=True)

    return AnnouncingServer
