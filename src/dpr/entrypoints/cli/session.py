"""What every client command shares: the server URL, the output mode, the debug switch.

The options are accepted both on the root group (``dpr --url X --json jobs list``) and on each
client command (``dpr jobs list --url X --json``); a command's own option wins.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # imported when used: ``dpr serve`` needs neither httpx nor rich
    from dpr.entrypoints.cli.client import DprClient
    from dpr.entrypoints.cli.output import Output

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_URL = "http://127.0.0.1:8000"


@dataclass
class Session:
    """The root context's object; commands get it with ``@click.pass_obj``."""

    url: str = DEFAULT_URL
    json: bool = False
    debug: bool = False
    timeout: float = 30.0
    watching: str | None = None  # the job being watched, named when Ctrl-C stops the watch
    api_key: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    _client: DprClient | None = field(default=None, repr=False)
    _out: Output | None = field(default=None, repr=False)

    @property
    def out(self) -> Output:
        if self._out is None:
            from dpr.entrypoints.cli.output import Output

            self._out = Output(json=self.json)
        return self._out

    def client(self) -> DprClient:
        if self._client is None:
            from dpr.entrypoints.cli.client import DprClient

            trace = self.out.trace if self.debug else None
            self._client = DprClient(
                self.url, timeout=self.timeout, trace=trace, api_key=self.api_key, token=self.token
            )
            click.get_current_context().call_on_close(self._client.close)
        return self._client


def session(ctx: click.Context) -> Session:
    return ctx.ensure_object(Session)


def _setter(name: str, only_if_given: bool) -> Callable[[click.Context, click.Parameter, Any], None]:
    def store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
        if value is None or (only_if_given and value is False):
            return
        setattr(session(ctx), name, value)

    return store


def root_options(f: F) -> F:
    """The root group's options: they set the defaults every client command starts from."""
    options = [
        click.option(
            "--url",
            envvar="DPR_URL",
            default=DEFAULT_URL,
            show_default=True,
            show_envvar=True,
            metavar="URL",
            expose_value=False,
            callback=_setter("url", False),
            help="The dpr server to talk to.",
        ),
        click.option(
            "--json",
            "json_",
            is_flag=True,
            expose_value=False,
            callback=_setter("json", False),
            help="Print JSON documents instead of tables (see docs/cli.md for their shapes).",
        ),
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_setter("debug", False),
            help="On errors print the traceback; print every HTTP exchange on stderr.",
        ),
        click.option(
            "--timeout",
            type=click.FloatRange(min=0.1),
            default=30.0,
            show_default=True,
            metavar="SECONDS",
            expose_value=False,
            callback=_setter("timeout", False),
            help="How long to wait for each answer of the server.",
        ),
        click.option(
            "--api-key",
            envvar="DPR_API_KEY",
            show_envvar=True,
            metavar="KEY",
            expose_value=False,
            callback=_setter("api_key", False),
            help="An API key, sent as x-api-key (prefer the variable: arguments show in process lists).",
        ),
        click.option(
            "--token",
            envvar="DPR_TOKEN",
            show_envvar=True,
            metavar="TOKEN",
            expose_value=False,
            callback=_setter("token", False),
            help="A bearer token, sent as Authorization: Bearer.",
        ),
    ]
    return functools.reduce(lambda g, option: option(g), reversed(options), f)


def json_option(f: F) -> F:
    """``--json`` on a command, overriding the root group's."""
    return click.option(
        "--json",
        "json_",
        is_flag=True,
        expose_value=False,
        callback=_setter("json", True),
        help="Print JSON instead of tables (shapes in docs/cli.md).",
    )(f)


def client_options(f: F) -> F:
    """``--url`` and ``--json`` on a client command, overriding the root group's."""
    f = json_option(f)
    return click.option(
        "--url",
        metavar="URL",
        expose_value=False,
        callback=_setter("url", True),
        help=f"The dpr server [default: dpr --url, DPR_URL, {DEFAULT_URL}].",
    )(f)
