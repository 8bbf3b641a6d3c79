"""Running jobs on Dask: the ``DaskExecutor`` and the cluster sources it connects through."""

from dpr.adapters.dask.executor import DaskExecutor
from dpr.adapters.dask.gateway import GatewaySource
from dpr.adapters.dask.sources import ClusterSource, LocalClusterSource, SchedulerSource
from dpr.adapters.dask.wire import WorkerTuning

__all__ = ["ClusterSource", "DaskExecutor", "GatewaySource", "LocalClusterSource", "SchedulerSource", "WorkerTuning"]
