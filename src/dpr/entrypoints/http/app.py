"""The Litestar application factory."""

from __future__ import annotations

import gc
import logging

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin

from dpr import __version__
from dpr.adapters.settings import Settings
from dpr.entrypoints.container import Container, build_container
from dpr.entrypoints.http import core, jobs, processes
from dpr.entrypoints.http import dpr as dpr_api
from dpr.entrypoints.http.api_doc import SwaggerUI30, docs_assets
from dpr.entrypoints.http.common import Jobs
from dpr.entrypoints.http.errors import EXCEPTION_HANDLERS
from dpr.entrypoints.http.templating import template_config
from dpr.services.jobs import JobService

log = logging.getLogger("dpr")


def _dependencies(service: JobService, settings: Settings) -> dict[str, Provide]:
    """The handlers' ``jobs`` and ``settings``: fixed for the app's life, so cached.

    ``settings`` is declared to need ``jobs`` only so Litestar resolves the two one after the
    other: two independent dependencies cost a task group (two tasks) on every request.
    """

    def provide_jobs() -> JobService:
        return service

    def provide_settings(jobs: Jobs) -> Settings:
        return settings

    return {
        "jobs": Provide(provide_jobs, sync_to_thread=False, use_cache=True),
        "settings": Provide(provide_settings, sync_to_thread=False, use_cache=True),
    }


def create_app(
    settings: Settings | None = None, container: Container | None = None, *, recover: bool = True, serving: bool = False
) -> Litestar:
    """A ready-to-serve app. The container (built from ``settings`` when not given) supplies
    every adapter; the job service starts with the app and stops with it.

    ``recover=False`` skips settling the jobs an earlier run left active: for the worker
    processes of one server, where the parent did it once before starting them.
    ``serving=True``, for a process that serves this one app until it exits: once started,
    what exists is frozen out of the garbage collector's reach (``gc.freeze``). A full
    collection then scans only what requests made (1-5 ms) instead of every module, route,
    schema and pool (130 ms here: a pause every few hundred requests, which was the p99 of
    every endpoint). Tests that build many apps in one process leave it off.
    """
    container = container or build_container(settings or Settings())
    settings = container.settings()
    service = container.job_service()

    async def start(app: Litestar) -> None:
        lost = await service.start(recover=recover)
        if lost:
            log.warning("%d job(s) left active by an earlier run were failed: their executor lost them", len(lost))
        if serving:
            gc.collect()
            gc.freeze()

    async def stop(app: Litestar) -> None:
        await service.close()
        await service.repository.close()

    return Litestar(
        route_handlers=[*core.ROUTES, *processes.ROUTES, *jobs.ROUTES, *dpr_api.routes(), docs_assets()],
        dependencies=_dependencies(service, settings),
        state=State({"jobs": service, "settings": settings, "container": container}),
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        on_startup=[start],
        on_shutdown=[stop],
        cors_config=CORSConfig(
            allow_origins=settings.server.cors_origins,
            expose_headers=["Location", "Link", "Preference-Applied", "Retry-After"],
        ),
        openapi_config=OpenAPIConfig(
            title=settings.server.title,
            version=__version__,
            description=settings.server.description,
            path="/api/docs",
            render_plugins=[SwaggerUI30(path="/"), JsonRenderPlugin(), YamlRenderPlugin()],
        ),
        template_config=template_config(),
    )
