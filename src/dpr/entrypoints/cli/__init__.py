"""The ``dpr`` command line.

``cli`` and ``main`` (the console script) are loaded when first used, from ``commands``: a
module of this package (``serve``'s settings resolution) can be imported without every command
and the HTTP client and terminal widgets behind them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpr.entrypoints.cli.commands import cli, main

__all__ = ["cli", "main"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.commands"), name)
