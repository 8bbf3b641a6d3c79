"""The Litestar application factory."""

from __future__ import annotations

import asyncio
import gc
import importlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

from dpr import __version__
from dpr.adapters.settings import Settings
from dpr.entrypoints.container import Container, build_container, running
from dpr.entrypoints.http import core, jobs, processes, signin
from dpr.entrypoints.http import dpr as dpr_api
from dpr.entrypoints.http.api_doc import SwaggerUI30, docs_assets
from dpr.entrypoints.http.auth import challenge, identify_caller
from dpr.entrypoints.http.common import Services
from dpr.entrypoints.http.encoded import EncodedResponses
from dpr.entrypoints.http.errors import CHALLENGE, EXCEPTION_HANDLERS
from dpr.entrypoints.http.guards import before_request
from dpr.entrypoints.http.headers import add_security_headers
from dpr.entrypoints.http.streams import StreamSlots
from dpr.entrypoints.http.templating import template_config
from dpr.entrypoints.stop_signals import draining_on_signals

log = logging.getLogger("dpr")


async def _warm_up() -> None:
    """Once the port is open: import what the first execution and the first HTML page need and
    start-up did not wait for, then move what exists out of the garbage collector's reach (``gc.freeze``).

    The full collection before the freeze takes about 0.15 s of CPU: done at start-up, it
    delayed the port by that much.
    """
    await asyncio.sleep(WARM_UP_AFTER)
    for module in WARM_UP_IMPORTS:
        await asyncio.to_thread(importlib.import_module, module)
    gc.collect()
    gc.freeze()


WARM_UP_AFTER = 1.0  # seconds after start-up
# Input validation (jsonschema: its format checkers build a grammar at import) and the HTML pages.
WARM_UP_IMPORTS = ("jsonschema", "jinja2", "litestar.plugins.jinja")


def stream_slots(settings: Settings) -> StreamSlots:
    lim = settings.limits
    return StreamSlots(lim.max_streams, lim.max_streams_per_client, lim.stream_idle_timeout, lim.retry_after)


def create_app(
    settings: Settings | None = None, container: Container | None = None, *, recover: bool = True, serving: bool = False
) -> Litestar:
    """A ready-to-serve app. The container (built from ``settings`` when not given) supplies
    every service; its resources start with the app and stop with it (``running``).

    ``recover=False`` holds no lease and skips settling the jobs an earlier run left active
    (tests that drive several apps on one store).
    ``serving=True``, for a process that serves this one app until it exits: a SIGTERM or
    Ctrl-C drains it before the server stops (``Lifecycle.stop``, ``server.grace_period``). A second
    after start-up, what exists is frozen out of the garbage collector's reach (``gc.freeze``). A full
    collection then scans only what requests made (1-5 ms) instead of every module, route,
    schema and pool (130 ms here: a pause every few hundred requests, which was the p99 of
    every endpoint). Tests that build many apps in one process leave it off.
    """
    container = container or build_container(settings or Settings())
    settings = container.settings()
    queries = container.queries()
    identification, key_header = container.identification(), settings.auth.api_key_header

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        async with running(container, recover=recover):
            if not serving:
                yield
                return
            warming = asyncio.ensure_future(_warm_up())
            lifecycle = container.lifecycle()
            async with draining_on_signals(lifecycle.stop):
                yield
            if not lifecycle.stopping:  # stopped otherwise than by a signal
                await lifecycle.stop()
            warming.cancel()
            await asyncio.gather(warming, return_exceptions=True)

    return Litestar(
        route_handlers=[
            *core.ROUTES,
            *signin.ROUTES,
            *processes.ROUTES,
            *jobs.ROUTES,
            *dpr_api.routes(),
            docs_assets(),
        ],
        state=State(
            {
                "queries": queries,
                "settings": settings,
                "services": Services(settings, queries, container.submission(), container.dismissal()),
                "identification": identification,
                CHALLENGE: challenge(identification, key_header),
                "streams": stream_slots(settings),
                "encoded": EncodedResponses(),
                "lifecycle": container.lifecycle(),
            }
        ),
        exception_handlers=EXCEPTION_HANDLERS,
        before_request=before_request(identify_caller(identification, key_header)),
        lifespan=[lifespan],
        before_send=[add_security_headers],
        cors_config=CORSConfig(
            allow_origins=settings.server.cors_origins,
            expose_headers=["Location", "Link", "Preference-Applied", "Retry-After"],
        )
        if settings.server.cors_origins
        else None,
        openapi_config=OpenAPIConfig(
            title=settings.server.title,
            version=__version__,
            description=settings.server.description,
            path="/api/docs",
            render_plugins=[SwaggerUI30(path="/"), JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        template_config=template_config(),
    )
