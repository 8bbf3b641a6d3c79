"""Running jobs on Dask: the ``DaskExecutor`` and the cluster sources it connects through.

The names are loaded when first used: importing a light module of this package (``wire``)
must not import distributed, which takes a second or more.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dpr.adapters.dask.executor import DaskExecutor
    from dpr.adapters.dask.gateway import GatewaySource
    from dpr.adapters.dask.sources import ClusterSource, LocalClusterSource, SchedulerSource
    from dpr.adapters.dask.wire import WorkerTuning

_WHERE = {
    "DaskExecutor": "executor",
    "GatewaySource": "gateway",
    "ClusterSource": "sources",
    "LocalClusterSource": "sources",
    "SchedulerSource": "sources",
    "WorkerTuning": "wire",
}

__all__ = ["ClusterSource", "DaskExecutor", "GatewaySource", "LocalClusterSource", "SchedulerSource", "WorkerTuning"]


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
