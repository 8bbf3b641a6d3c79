"""The job services as the container wires them, started and stopped by its lifespan: what the
unit, integration and benchmark code drives, with test adapters put in by ``override()``."""

from __future__ import annotations

from contextlib import AsyncExitStack
from typing import Any

import msgspec
from dependency_injector import providers

from dpr.adapters.settings import ProcessSettings, ServerSettings, Settings, ephemeral
from dpr.domain.job import Job
from dpr.entrypoints.container import Container, build_container, running
from dpr.services.submission import Limits


class Services:
    """Each use case's service, the adapters under them, and ``start``/``close`` around
    ``running`` (the server's lifespan)."""

    def __init__(self, container: Container) -> None:
        self.container = container
        self.submission = container.submission()
        self.queries = container.queries()
        self.dismissal = container.dismissal()
        self.records = container.records()
        self.repository = container.repository()
        self.log_store = container.log_store()
        self.executor = container.executor()
        self.catalog = container.catalog()
        self.clock = container.clock()
        self._stack = AsyncExitStack()

    async def start(self, *, recover: bool = True) -> list[Job]:
        """Start the resources and (with ``recover``) settle jobs left active; returns those failed as lost."""
        lost: list[Job] = await self._stack.enter_async_context(running(self.container, recover=recover))
        return lost

    async def close(self) -> None:
        await self._stack.aclose()


def wire(
    processes: ProcessSettings | None = None,
    *,
    settings: Settings | None = None,
    repository: Any = None,
    log_store: Any = None,
    executor: Any = None,
    ids: Any = None,
    clock: Any = None,
    limits: Limits | None = None,
    fetcher: Any = None,
    notifier: Any = None,
    public_base: str | None = None,
) -> Services:
    """Services on in-memory stores and the in-process executor (unless given), the given
    processes, no outbound HTTP unless a ``fetcher`` or ``notifier`` is given."""
    settings = settings or ephemeral(Settings(processes=processes or ProcessSettings()))
    if public_base is not None:
        settings = msgspec.structs.replace(settings, server=ServerSettings(base_url=public_base))
    container = build_container(settings)
    given = {
        "repository": repository,
        "log_store": log_store,
        "executor": executor,
        "ids": ids,
        "clock": clock,
        "limits": limits,
    }
    for name, value in given.items():
        if value is not None:
            getattr(container, name).override(providers.Object(value))
    container.fetcher.override(providers.Object(fetcher))  # None: references are passed on unfetched
    container.notifier.override(providers.Object(notifier))  # None: no callbacks
    return Services(container)
