"""The job services on in-memory adapters and the in-process executor, in the time of a manual clock.

The executor runs jobs inline on the test's event loop: a processor's ``context.sleep`` lasts
until the test moves the clock (``service.executor.advance(seconds)``), so no test waits for
real time and every run goes the same way.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Callable, Mapping

import pytest

from dpr.adapters.clock import ManualClock
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.settings import ProcessDefinition, ProcessSettings
from dpr.ports.clock import IdGenerator
from dpr.services.submission import Limits
from tests.services import Services, wire
from tests.virtual_time import VirtualTimeLoop

DEFINITIONS = [
    ProcessDefinition(id="echo", processor="dpr.adapters.processors.echo:EchoProcessor"),
    ProcessDefinition(id="mockup", processor="dpr.adapters.processors.mockup:MockupProcessor"),
    ProcessDefinition(id="secret-echo", processor="tests.processors:SecretEchoProcessor", env=["TOKEN"]),
    ProcessDefinition(id="chatty", processor="tests.processors:ChattyProcessor"),
    ProcessDefinition(id="crash", processor="tests.processors:CrashingProcessor"),
    ProcessDefinition(id="stubborn", processor="tests.processors:StubbornProcessor"),
]


def pytest_asyncio_loop_factories(config: pytest.Config, item: pytest.Item) -> Mapping[str, Callable[[], object]]:
    """The event loop of each test: in virtual time (tests/virtual_time.py) for those marked
    ``virtual_time``, whose waits on the loop's clock then pass at once; asyncio's own otherwise."""
    if item.get_closest_marker("virtual_time"):
        return {"virtual_time": VirtualTimeLoop}
    return {"asyncio": asyncio.new_event_loop}


class SequentialIds(IdGenerator):
    def __init__(self) -> None:
        self._n = itertools.count(1)

    def new_id(self) -> str:
        return f"job-{next(self._n)}"


def build_service(
    repository=None, executor=None, limits: Limits | None = None, workers: int = 2, **outbound
) -> Services:
    """The services on the test processes and in-memory stores, running at most ``workers`` jobs
    at once on the inline executor (unless given another); ``outbound`` may name a ``fetcher``,
    a ``notifier`` and a ``public_base``."""
    clock = ManualClock()
    return wire(
        ProcessSettings(definitions=DEFINITIONS),
        repository=repository,
        executor=executor or FakeExecutor(max_workers=workers, clock=clock),
        clock=clock,
        ids=SequentialIds(),
        limits=limits,
        **outbound,
    )


@pytest.fixture
async def service() -> AsyncIterator[Services]:
    svc = build_service()
    await svc.start()
    yield svc
    await svc.close()
