"""``dpr keys``: make, list and revoke API keys in the server's database (no server needed)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from rich.table import Table
from rich.text import Text

from dpr.domain.api_key import ApiKey
from dpr.domain.errors import DomainError, NoSuchKey, Unavailable
from dpr.entrypoints.cli.admin import config_option, load
from dpr.entrypoints.cli.errors import CliError, Exit, UsageError
from dpr.entrypoints.cli.session import Session, json_option
from dpr.entrypoints.cli.when import UNITS, parse_since, rfc3339
from dpr.services.keys import KeyManagement

T = TypeVar("T")


def expiry(text: str | None) -> datetime | None:
    """``30d``, ``12h``... from now, or an RFC 3339 instant."""
    if text is None:
        return None
    now = datetime.now(UTC)
    try:
        if re.fullmatch(r"(?:\d+[smhdw])+", text.strip()):
            return now + timedelta(seconds=sum(int(n) * UNITS[u] for n, u in re.findall(r"(\d+)([smhdw])", text)))
        return parse_since(text, now)
    except ValueError as e:
        raise UsageError(f"--expires: {e}") from None


def with_keys(config_path: str | None, work: Callable[[KeyManagement], Awaitable[T]]) -> T:
    """Run ``work`` on the key service of the configured database (opened and migrated)."""
    from dpr.entrypoints.container import build_container, running

    settings = load(config_path)
    if urlsplit(settings.storage.url).scheme.lower() == "memory":
        raise UsageError("storage is memory://: keys would vanish with this command. Set storage.url to the database.")

    async def run() -> T:
        container = build_container(settings)
        async with running(container, storage_only=True):
            return await work(container.keys())

    try:
        return asyncio.run(run())
    except Unavailable as e:
        raise CliError(str(e), Exit.UNAVAILABLE) from None
    except DomainError as e:
        raise CliError(str(e), Exit.USAGE if not isinstance(e, NoSuchKey) else Exit.REFUSED) from None


def described(key: ApiKey) -> dict[str, Any]:
    """A key's record for people and ``--json``: never the key, nor its digest."""
    when = {name: rfc3339(v) if (v := getattr(key, name)) else None for name in ("created", "expires", "revoked")}
    return {"id": key.key_id, "owner": key.owner, "roles": sorted(key.roles), **when}


@click.group("keys")
def keys() -> None:
    """Make, list and revoke API keys (auth.methods: api_key), in the server's database."""


@keys.command("create")
@config_option
@json_option
@click.option("--owner", required=True, help="Who the key identifies: it owns the jobs submitted with the key.")
@click.option("--role", "roles", multiple=True, metavar="ROLE", help="A role of the key (admin: sees all jobs).")
@click.option("--expires", metavar="WHEN", help="Refuse the key from then on: 30d, 12h... or an RFC 3339 instant.")
@click.pass_obj
def create(s: Session, config_path: str | None, owner: str, roles: tuple[str, ...], expires: str | None) -> None:
    """Make a key and print it, once: only its digest is stored.

    \b
    --json: {"id", "owner", "roles", "created", "expires", "revoked", "key"}.
    """
    until = expiry(expires)
    record, key = with_keys(config_path, lambda k: k.create(owner, frozenset(roles), until))
    if s.json:
        s.out.print_json({**described(record), "key": key})
        return
    click.echo(key)
    s.out.note(f"API key {record.key_id} for {owner}: shown once, keep it secret (send it as x-api-key).")


@keys.command("list")
@config_option
@json_option
@click.pass_obj
def list_keys(s: Session, config_path: str | None) -> None:
    """List the keys' records (never the keys).

    \b
    --json: [{"id", "owner", "roles", "created", "expires", "revoked"}].
    """
    records = [described(k) for k in with_keys(config_path, lambda k: k.all())]
    if s.json:
        s.out.print_json(records)
        return
    table = Table("id", "owner", "roles", "created", "expires", "revoked", box=None)
    for r in records:
        table.add_row(r["id"], r["owner"], ",".join(r["roles"]), r["created"], r["expires"] or "", r["revoked"] or "")
    s.out.print(table if records else Text("no API keys", style="dim"))


@keys.command("revoke")
@config_option
@json_option
@click.argument("key_id", metavar="ID")
@click.pass_obj
def revoke(s: Session, config_path: str | None, key_id: str) -> None:
    """Revoke a key: every server refuses it from its next request on (idempotent)."""
    record = described(with_keys(config_path, lambda k: k.revoke(key_id)))
    if s.json:
        s.out.print_json(record)
        return
    click.echo(f"API key {record['id']} of {record['owner']} revoked at {record['revoked']}")
