"""A clean stop on SIGTERM or Ctrl-C: drain first, while still serving, then let the server stop."""

from __future__ import annotations

import asyncio
import logging
import signal
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any

log = logging.getLogger("dpr")

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


@asynccontextmanager
async def draining_on_signals(drain: Callable[[], Coroutine[Any, Any, Any]]) -> AsyncIterator[None]:
    """While inside, the first SIGTERM or SIGINT runs ``drain`` while the server goes on
    answering (so it can say 503 and not ready), then is passed on to the handler it replaced
    (uvicorn's, which then closes the port and stops the server). A signal during the drain
    goes straight to that handler (a second Ctrl-C forces the stop). Outside the main thread,
    where signals cannot be caught, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    loop = asyncio.get_running_loop()
    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    draining: list[asyncio.Task[Any]] = []

    def restore() -> None:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            signal.signal(sig, handler)

    def pass_on(sig: int) -> None:
        handler = previous[signal.Signals(sig)]
        if callable(handler):
            handler(sig, None)
        elif handler != signal.SIG_IGN:
            signal.raise_signal(sig)

    def received(sig: int) -> None:
        restore()
        log.info("received %s: stopping (draining first)", signal.Signals(sig).name)
        task = loop.create_task(drain(), name="dpr-drain")
        task.add_done_callback(lambda _: pass_on(sig))
        draining.append(task)

    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, received, sig)
    try:
        yield
    finally:
        if draining:
            await asyncio.gather(*draining, return_exceptions=True)
        else:
            restore()
