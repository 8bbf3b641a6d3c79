"""Waiting in tests: for a condition, never for a fixed time, with a generous bound.

Every bound is multiplied by ``DPR_TEST_TIMEOUT_SCALE`` (default 1), so a slow or busy machine
can give the whole suite more time (``DPR_TEST_TIMEOUT_SCALE=3 make test``) without a test
changing. A bound is a ceiling for failures, not a pace: a condition that holds returns at once.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")

DEFAULT_TIMEOUT = 30.0  # seconds, before scaling
POLL = 0.05  # seconds between two looks at the condition


def scale() -> float:
    """The factor every test bound is multiplied by (``DPR_TEST_TIMEOUT_SCALE``, at least 1)."""
    return max(1.0, float(os.environ.get("DPR_TEST_TIMEOUT_SCALE") or 1))


def scaled(seconds: float) -> float:
    """``seconds`` scaled for this machine: use it wherever a test hands a bound to a library."""
    return seconds * scale()


def wait_for(
    condition: Callable[[], T],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
    *,
    ignoring: tuple[type[BaseException], ...] = (),
    interval: float = POLL,
) -> T:
    """The first truthy value of ``condition()``, looked at every ``interval`` seconds.

    Raises ``TimeoutError`` naming ``what`` after ``scaled(timeout)`` seconds; exceptions of the
    ``ignoring`` types count as "not yet" (a server still starting refuses connections).
    """
    deadline = time.monotonic() + scaled(timeout)
    while True:
        try:
            if value := condition():
                return value
        except ignoring:
            pass
        if time.monotonic() > deadline:
            raise TimeoutError(f"waited {scaled(timeout):g} s for {what}")
        time.sleep(interval)


async def async_wait_for(
    condition: Callable[[], T | Awaitable[T]],
    timeout: float = DEFAULT_TIMEOUT,
    what: str = "the condition",
    *,
    ignoring: tuple[type[BaseException], ...] = (),
    interval: float = POLL,
) -> T:
    """``wait_for`` on the event loop: ``condition`` may be a plain or an async function.

    The first looks come sooner (1 ms, doubling up to ``interval``): what the loop itself
    brings about usually holds after a few turns, and a unit test should not wait 50 ms for it.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(timeout)
    pause = min(0.001, interval)
    while True:
        try:
            value = condition()
            if isinstance(value, Awaitable):
                value = await value
            if value:
                return value  # type: ignore[return-value]
        except ignoring:
            pass
        if loop.time() > deadline:
            raise TimeoutError(f"waited {scaled(timeout):g} s for {what}")
        await asyncio.sleep(pause)
        pause = min(pause * 2, interval)


def holds_for(condition: Callable[[], object], seconds: float, what: str = "the condition") -> None:
    """Assert that ``condition()`` stays truthy for ``scaled(seconds)``: the only way to see that
    something does *not* happen (a late event ignored, a cancelled job never started)."""
    deadline = time.monotonic() + scaled(seconds)
    while time.monotonic() < deadline:
        assert condition(), f"{what} stopped holding"
        time.sleep(POLL)
    assert condition(), f"{what} stopped holding"


async def async_holds_for(condition: Callable[[], object], seconds: float, what: str = "the condition") -> None:
    """``holds_for`` on the event loop; ``condition`` may be a plain or an async function."""

    async def check() -> None:
        value = condition()
        if isinstance(value, Awaitable):
            value = await value
        assert value, f"{what} stopped holding"

    loop = asyncio.get_running_loop()
    deadline = loop.time() + scaled(seconds)
    while loop.time() < deadline:
        await check()
        await asyncio.sleep(POLL)
    await check()
