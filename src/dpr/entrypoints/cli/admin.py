"""Server-side administration: ``dpr config check`` and ``dpr db upgrade``.

These commands read the configuration and use the adapters directly; they never call a server.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import click
import msgspec
import yaml
from rich.text import Text

from dpr.adapters.config import ConfigError, redact_url, redacted
from dpr.adapters.geoapi_config import load_config
from dpr.adapters.settings import AuthSettings, ExecutorSettings, Settings
from dpr.entrypoints.cli.errors import CliError, Exit, UsageError
from dpr.entrypoints.cli.session import Session, json_option

config_option = click.option(
    "-c",
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    envvar="DPR_CONFIG",
    show_envvar=True,
    metavar="FILE",
    help="YAML configuration file [default: built-in defaults].",
)


def load(config_path: str | None) -> Settings:
    try:
        return load_config(config_path)
    except ConfigError as e:
        raise UsageError(str(e)) from None


def describe_storage(url: str) -> str:
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0].lower()
    if scheme == "memory":
        return "in memory (jobs are lost when the server stops)"
    if scheme == "sqlite":
        return f"SQLite database file {parts.path.lstrip('/') or ':memory:'}"
    if scheme in ("postgresql", "postgres"):
        where = f"{parts.hostname or 'localhost'}:{parts.port or 5432}"
        database, user = parts.path.lstrip("/") or "(default)", parts.username or "(default user)"
        return f"PostgreSQL database {database} at {where} as {user}"
    return redact_url(url)


def describe_executor(e: ExecutorSettings) -> str:
    address = redact_url(e.address or "(no address set)")
    return {
        "fake": f"threads inside the server process: {e.workers} worker(s) x {e.threads_per_worker} thread(s)",
        "local": f"a local Dask cluster the server starts: {e.workers} worker(s) x {e.threads_per_worker} "
        f"thread(s), memory {e.memory_limit}, its scheduler "
        + ("in a process of its own" if e.scheduler_process else "in the server's process"),
        "scheduler": f"the Dask scheduler at {address}",
        "gateway": f"the Dask Gateway at {address}",
    }[e.kind]


def describe_auth(auth: AuthSettings) -> dict[str, str]:
    """How callers authenticate: each method, with what it reads and trusts (no secret: the
    server holds none but API keys' digests, and an issuer URL's password is hidden)."""
    if auth.anonymous:
        remote = "allowed beyond loopback" if auth.allow_anonymous_remote else "loopback only"
        return {"anonymous": f"no authentication, every caller sees every job ({remote})"}
    shown: dict[str, str] = {}
    if "api_key" in auth.methods:
        cache = f"records cached {auth.key_cache:g} s" if auth.key_cache > 0 else "no cache"
        shown["api_key"] = f"header {auth.api_key_header} or Authorization: Bearer, digests in the job store ({cache})"
    if "oidc" in auth.methods:
        o = auth.oidc
        shown["oidc"] = (
            f"Authorization: Bearer JWTs of issuer {redact_url(o.issuer or '(not set)')}, "
            f"audience {o.audience or '(not set)'}, roles from {o.roles_claim}, algorithms {', '.join(o.algorithms)}"
        )
    return shown


def connections(settings: Settings, source: str) -> dict[str, Any]:
    """What each adapter will connect to, after the checks the server makes when it starts."""
    from dpr.adapters.catalog import CatalogError
    from dpr.entrypoints.container import build_container, executor_kind, storage_kind

    try:
        storage_kind(settings)
        executor_kind(settings)
        container = build_container(settings)
        refs = container.processor_refs()
        container.identification()  # the checks of auth.methods (an OIDC issuer and audience)
    except (ValueError, CatalogError) as e:
        raise UsageError(f"{source}: {e}") from None
    return {
        "storage": describe_storage(settings.storage.url),
        "executor": describe_executor(settings.executor),
        "processes": {pid: ref.target for pid, ref in refs.items()},
        "auth": describe_auth(settings.auth),
    }


@click.group("config")
def config() -> None:
    """Check the server's configuration."""


@config.command("check")
@config_option
@json_option
@click.pass_obj
def check(s: Session, config_path: str | None) -> None:
    """Load and validate the configuration; print the effective settings (passwords hidden)
    and what each adapter will connect to. Exits 2 with the reason when it is unusable.

    \b
    --json: {"source": FILE, "settings": {...}, "connections": {"storage", "executor", "processes",
    "auth"}}; "auth" names each method of auth.methods (or "anonymous") with what it reads.
    """
    source = config_path or "<defaults>"
    settings = load(config_path)
    shown_settings, targets = redacted(settings), connections(settings, source)
    if s.json:
        s.out.print_json({"source": source, "settings": shown_settings, "connections": targets})
        return
    s.out.print(Text(f"# effective settings from {source} and the environment (passwords hidden)", style="dim"))
    s.out.print(Text(yaml.safe_dump(shown_settings, sort_keys=False).rstrip()))
    s.out.print(Text("\n# connections", style="dim"))
    for name, target in targets.items():
        shown = ", ".join(f"{k} ({v})" for k, v in target.items()) if isinstance(target, dict) else target
        s.out.print(Text.assemble((f"{name}: ", "bold"), shown), soft_wrap=True)
    s.out.print(Text(f"\nconfiguration OK ({source})", style="green"))


@click.group("db")
def db() -> None:
    """Migrate the server's database."""


@db.command("upgrade")
@config_option
@click.option(
    "--url",
    "db_url",
    metavar="URL",
    help="The database to migrate (not the server's URL) [default: storage.url of the configuration].",
)
def upgrade(config_path: str | None, db_url: str | None) -> None:
    """Apply the database migrations (idempotent: an up-to-date database is left as is)."""
    from dpr.entrypoints.container import build_container

    settings = Settings() if db_url else load(config_path)  # --url needs no configuration
    url = db_url or settings.storage.url
    if urlsplit(url).scheme.lower() == "memory":
        raise UsageError(
            f"storage is {url}: nothing to migrate. Give a database with --url or storage.url "
            "(postgresql+psycopg://..., sqlite+aiosqlite:///...)."
        )
    storage = msgspec.structs.replace(settings.storage, url=url)
    try:
        build_container(msgspec.structs.replace(settings, storage=storage)).upgrade_database()
    except Exception as e:
        reason = " ".join(str(e).split()) or e.__class__.__name__
        raise CliError(f"cannot migrate {redact_url(url)}: {redact_url(reason)}", Exit.UNAVAILABLE) from e
    click.echo(f"database {redact_url(url)} is up to date")
