"""``dpr serve``: run the HTTP service."""

from __future__ import annotations

import asyncio
import logging
import os
from typing import TYPE_CHECKING, Any

import click
import msgspec

from dpr.adapters.catalog import CatalogError
from dpr.adapters.config import ConfigError, redact_url
from dpr.adapters.geoapi_config import load_config
from dpr.adapters.settings import Settings, ephemeral
from dpr.domain.errors import Unavailable
from dpr.entrypoints.cli.errors import CliError, Exit, UsageError
from dpr.entrypoints.log_format import configure_logging

if TYPE_CHECKING:
    from litestar import Litestar

log = logging.getLogger("dpr")

# Where the parent of ``--http-workers`` processes hands them its effective settings.
WORKER_SETTINGS = "DPR_SERVE_WORKER_SETTINGS"


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
    return settings


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
    "PostgreSQL (or SQLite) store and executor.kind fake; each runs the jobs it accepted.",
)
@click.option(
    "--ephemeral", is_flag=True, help="Keep jobs in memory and run them in-process: nothing survives a restart."
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
    log_level: str | None,
) -> None:
    """Run the OGC API - Processes server.

    Start-up waits up to storage.connect_timeout for the database, then gives up with one
    line naming it (exit code 3).
    """
    import uvicorn

    from dpr.entrypoints.http.app import create_app

    try:
        settings = resolve_settings(config, host=host, port=port, workers=workers, ephemeral=ephemeral)
        check_http_workers(settings, http_workers)
        app = create_app(settings, serving=True) if http_workers == 1 else None
    except (ConfigError, CatalogError, ValueError) as e:
        raise UsageError(str(e)) from None
    level = (log_level or settings.logging.level).upper()
    configure_logging(level)
    prepare_storage(settings, recover=app is None)
    click.echo(
        f"dpr serving on http://{settings.server.host}:{settings.server.port} "
        f"(storage {redact_url(settings.storage.url)}, executor {settings.executor.kind}, "
        f"{http_workers} HTTP worker(s), pid {os.getpid()})",
        err=True,
    )
    options: dict[str, Any] = {
        "host": settings.server.host,
        "port": settings.server.port,
        "log_level": level.lower(),
        "access_log": level == "DEBUG",
        "log_config": None,  # uvicorn's loggers go through the root's escaping handler
    }
    if app is not None:
        uvicorn.run(app, **options)
        return
    # Workers are new interpreters: they get the settings resolved here, already migrated.
    storage = msgspec.structs.replace(settings.storage, migrate_on_start=False)
    os.environ[WORKER_SETTINGS] = msgspec.json.encode(msgspec.structs.replace(settings, storage=storage)).decode()
    uvicorn.run(f"{__name__}:worker_app", factory=True, workers=http_workers, **options)


def check_http_workers(settings: Settings, count: int) -> None:
    """Refuse a worker count the configuration cannot serve correctly (``ValueError``)."""
    from dpr.entrypoints.container import storage_kind, storage_url

    if count == 1:
        return
    if storage_kind(settings) == "memory":
        raise ValueError(
            "--http-workers above 1 needs a database (storage.url): each worker would keep its own jobs in memory"
        )
    if settings.executor.kind != "fake":
        raise ValueError(
            f"--http-workers above 1 needs executor.kind fake: every worker's {settings.executor.kind} "
            "executor would adopt the same jobs at start-up"
        )
    if storage_url(settings).startswith("sqlite"):
        click.echo("warning: SQLite takes one writer at a time; one HTTP worker is usually faster", err=True)


def prepare_storage(settings: Settings, *, recover: bool) -> None:
    """Wait for the database and migrate it, before serving; with ``recover``, also settle
    the jobs an earlier run left active (once, for all the workers about to start).

    Raises ``CliError`` (exit code 3) with one line naming the database when it does not
    answer within ``storage.connect_timeout``.
    """
    from dpr.entrypoints.container import storage_kind

    if storage_kind(settings) == "memory":
        return
    try:
        asyncio.run(_prepare(settings, recover))
    except Unavailable as e:
        raise CliError(f"cannot start: {e.describe()}", Exit.UNAVAILABLE) from None


async def _prepare(settings: Settings, recover: bool) -> None:
    from dpr.entrypoints.container import build_container, running

    # Without recovery only the store is opened: the server's own executor starts with it.
    async with running(build_container(settings), recover=recover, storage_only=not recover):
        pass


def worker_app() -> Litestar:
    """The app of one ``--http-workers`` process (a uvicorn factory): the parent's settings,
    no start-up recovery (the parent did it)."""
    from dpr.entrypoints.http.app import create_app

    settings = msgspec.json.decode(os.environ[WORKER_SETTINGS], type=Settings)
    configure_logging(settings.logging.level.upper())
    return create_app(settings, recover=False, serving=True)
