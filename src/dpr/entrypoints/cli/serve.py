"""``dpr serve``: run the HTTP service."""

from __future__ import annotations

import logging
import os
from typing import Any

import click
import msgspec

from dpr.adapters.catalog import CatalogError
from dpr.adapters.config import ConfigError, redact_url
from dpr.adapters.geoapi_config import load_config
from dpr.adapters.settings import Settings, ephemeral
from dpr.entrypoints.cli.errors import UsageError


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
@click.option("-c", "--config", type=click.Path(dir_okay=False), envvar="DPR_CONFIG", help="YAML configuration file [env: DPR_CONFIG].")
@click.option("--host", help="Address to listen on [default: from config, 127.0.0.1].")
@click.option("--port", type=click.IntRange(1, 65535), help="Port to listen on [default: from config, 8000].")
@click.option("--workers", type=click.IntRange(1, 256), help="Workers of the embedded executor.")
@click.option("--ephemeral", is_flag=True, help="Keep jobs in memory and run them in-process: nothing survives a restart.")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default=None, help="Log verbosity [default: from config, info].")
def serve(config: str | None, host: str | None, port: int | None, workers: int | None, ephemeral: bool, log_level: str | None) -> None:
    """Run the OGC API - Processes server."""
    import uvicorn

    from dpr.entrypoints.http.app import create_app

    try:
        settings = resolve_settings(config, host=host, port=port, workers=workers, ephemeral=ephemeral)
        app = create_app(settings)
    except (ConfigError, CatalogError, ValueError) as e:
        raise UsageError(str(e)) from None
    level = (log_level or settings.logging.level).upper()
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    click.echo(
        f"dpr serving on http://{settings.server.host}:{settings.server.port} "
        f"(storage {redact_url(settings.storage.url)}, executor {settings.executor.kind}, pid {os.getpid()})",
        err=True,
    )
    uvicorn.run(app, host=settings.server.host, port=settings.server.port, log_level=level.lower(), access_log=level == "DEBUG")
