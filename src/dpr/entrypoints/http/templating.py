"""The Jinja2 environment of the HTML pages: templates shipped in the package, autoescaped.

Built when a page is first rendered (or by the app's warm-up, once the port is open): importing
Jinja2 took about 0.07 s of the server's start-up.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import msgspec
from litestar.template.base import TemplateEngineProtocol
from litestar.template.config import TemplateConfig

from dpr.domain.documents import Link
from dpr.domain.text import escape_controls
from dpr.entrypoints.http.links import in_format
from dpr.entrypoints.http.negotiation import Format

if TYPE_CHECKING:
    from jinja2 import Template
    from litestar.plugins.jinja import JinjaTemplateEngine


class LazyJinja(TemplateEngineProtocol["Template", Mapping[str, Any]]):
    """Litestar's Jinja2 engine on ``jinja_engine()``, made when first asked for a template."""

    def __init__(self) -> None:
        self._engine: JinjaTemplateEngine | None = None

    def engine(self) -> JinjaTemplateEngine:
        if self._engine is None:
            self._engine = jinja_engine()
        return self._engine

    def get_template(self, template_name: str) -> Template:
        return self.engine().get_template(template_name)

    def render_string(self, template_string: str, context: Mapping[str, Any]) -> str:
        return self.engine().render_string(template_string, context)

    def register_template_callable(self, key: str, template_callable: Callable[..., Any]) -> None:
        self.engine().register_template_callable(key, template_callable)


def template_config() -> TemplateConfig[LazyJinja]:
    """The app's template engine: every ``.html`` template escapes what it prints."""
    return TemplateConfig(instance=LazyJinja())


def jinja_engine() -> JinjaTemplateEngine:
    """Jinja2 on the package's templates, with dpr's filters."""
    from jinja2 import Environment, PackageLoader, select_autoescape
    from litestar.plugins.jinja import JinjaTemplateEngine

    env = Environment(
        loader=PackageLoader("dpr.entrypoints.http", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        html=html_href,
        json=json_href,
        pretty=pretty,
        oversized=oversized,
        when=when,
        seconds=seconds,
        controls=escape_controls,
    )
    env.globals.update(href=href)
    return JinjaTemplateEngine(engine_instance=env)


def html_href(url: str) -> str:
    return in_format(url, Format.HTML)


def json_href(url: str) -> str:
    return in_format(url, Format.JSON)


def href(links: list[Link], rel: str) -> str | None:
    """The target of the first link with relation ``rel`` (full URI or bare name)."""
    for link in links:
        if link.rel == rel or (link.rel or "").endswith("/" + rel):
            return link.href
    return None


RENDERED_CHARS = 20_000
"""What a page shows of one value at most: pages render on the event loop, and an indented
100 kB input made a 92 MB page that held every other request for seconds."""


def pretty(value: Any) -> str:
    """Any JSON-able value, indented, cut at ``RENDERED_CHARS`` (the template escapes the
    result). A value too long even compact is shown compact, cut, never indented whole."""
    compact = msgspec.json.encode(value)
    if len(compact) > RENDERED_CHARS:
        return compact[:RENDERED_CHARS].decode(errors="ignore") + " ..."
    text = msgspec.json.format(compact, indent=2).decode()
    return text if len(text) <= RENDERED_CHARS else text[:RENDERED_CHARS] + "\n..."


def oversized(value: Any) -> bool:
    """Whether ``pretty`` cuts ``value``: the page then links to the JSON."""
    compact = msgspec.json.encode(value)
    return len(compact) > RENDERED_CHARS or len(msgspec.json.format(compact, indent=2)) > RENDERED_CHARS


def when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S UTC") if value else "-"


def seconds(value: timedelta | None) -> str:
    if value is None:
        return "-"
    total = int(value.total_seconds())
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"
