"""An event loop in virtual time: whenever nothing can run, its clock jumps to the next timer.

``asyncio.sleep``, ``wait_for`` and every ``loop.time()`` deadline of the code under test then
pass at once and always in the same order, so a test can use the service's real periods (a
30 s grace, a 15 s keep-alive) and still take milliseconds. Only for tests where all the work is
on the loop: a thread or a subprocess the loop waits for would see every timeout expire at once.
Unit tests choose it with ``@pytest.mark.virtual_time`` (tests/unit/conftest.py).
"""

from __future__ import annotations

import asyncio
import selectors


class _JumpingSelector(selectors.DefaultSelector):
    """Looks for ready I/O without blocking; when there is none, moves the clock on by the time
    the loop would have slept instead of sleeping."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        ready = super().select(0)
        if ready or timeout is None or timeout <= 0:
            # Nothing scheduled at all (timeout None): only I/O can wake the loop, so wait for it.
            return ready or (super().select(None) if timeout is None else ready)
        self.now += timeout
        return []


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """An event loop whose ``time()`` moves only when it would otherwise wait."""

    def __init__(self) -> None:
        self._jumping = _JumpingSelector()
        super().__init__(self._jumping)

    def time(self) -> float:
        return self._jumping.now

    def __repr__(self) -> str:
        return f"<VirtualTimeLoop at {self.time():g} s>"
