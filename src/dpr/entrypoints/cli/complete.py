"""Shell completion of process and job ids, asked of the server; silent when it cannot answer."""

from __future__ import annotations

import os
from collections.abc import Callable

import click
from click.shell_completion import CompletionItem

from dpr.entrypoints.cli.client import DprClient
from dpr.entrypoints.cli.session import DEFAULT_URL

COMPLETION_TIMEOUT = 2.0  # a TAB must not hang on an unreachable server
Lister = Callable[[DprClient], list[tuple[str, str]]]


def _url(ctx: click.Context) -> str:
    obj = ctx.find_root().obj
    return getattr(obj, "url", None) or os.environ.get("DPR_URL") or DEFAULT_URL


def _ask(ctx: click.Context, incomplete: str, lister: Lister) -> list[CompletionItem]:
    obj = ctx.find_root().obj
    api_key = getattr(obj, "api_key", None) or os.environ.get("DPR_API_KEY")
    token = getattr(obj, "token", None) or os.environ.get("DPR_TOKEN")
    client = DprClient(_url(ctx), timeout=COMPLETION_TIMEOUT, api_key=api_key, token=token)
    try:
        pairs = lister(client)
    except Exception:  # completion must never print an error into the user's shell
        return []
    finally:
        client.close()
    return [CompletionItem(value, help=help_) for value, help_ in pairs if value.startswith(incomplete)]


def _processes(client: DprClient) -> list[tuple[str, str]]:
    return [(p["id"], p.get("title", "")) for p in client.processes().get("processes", [])]


def _jobs(client: DprClient) -> list[tuple[str, str]]:
    jobs = client.jobs({"limit": 100}, 100).get("jobs", [])
    return [(j["jobID"], f"{j.get('processID', '')} {j.get('status', '')}") for j in jobs]


def process_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _ask(ctx, incomplete, _processes)


def job_ids(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[CompletionItem]:
    return _ask(ctx, incomplete, _jobs)
