"""Which Dask cluster an EOPF run computes on.

As in rs-dpr-service, EOPF attaches to the cluster the job itself runs on: a job running on a
Dask worker hands EOPF its scheduler's address (and, on a TLS cluster such as Dask Gateway's,
the worker's certificates through the payload's ``dask_config``). A job running outside Dask
(the in-process executor) lets EOPF compute without a cluster, unless told otherwise. So does
a job on workers that cannot run EOPF's tasks (no ``eopf`` in their own environment): attaching
there would ship them functions they cannot load.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Any

from dpr.adapters.processors.eopf_payload import DaskPlan

MODES = ("job_cluster", "local", "none", "payload")
_TLS = {"tls_ca_file": "ca-file", "tls_client_cert": "client.cert", "tls_client_key": "client.key"}


def plan_for(mode: str, local_cluster: dict[str, Any], secrets_dir: Path) -> DaskPlan:
    """The Dask plan of a run in ``mode`` (one of ``MODES``); TLS files go to ``secrets_dir``."""
    if mode not in MODES:
        raise ValueError(f"option 'dask' must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "local":
        return DaskPlan(kind="local", cluster_config={"threads_per_worker": 1, **local_cluster})
    if mode in ("none", "payload"):
        return DaskPlan(kind=mode)
    worker = current_worker()
    if worker is None:
        return DaskPlan(kind="none", reason="the job does not run on a Dask cluster")
    if importlib.util.find_spec("eopf") is None:
        return DaskPlan(kind="none", reason="the job's Dask workers have no eopf to run EOPF's tasks")
    address = worker.scheduler.address
    return DaskPlan(kind="address", address=address, dask_config=tls_config(worker.security, secrets_dir))


def current_worker() -> Any | None:
    """The Dask worker running this thread's task, or None outside Dask."""
    distributed = sys.modules.get("distributed")
    if distributed is None:  # a Dask worker has imported it: no need to (slowly) import it here
        return None
    try:
        return distributed.get_worker()
    except ValueError:
        return None


def tls_config(security: Any, secrets_dir: Path) -> dict[str, Any]:
    """Dask settings that let a client in another process speak TLS as this worker does.

    In-memory certificates (Dask Gateway's) are written to private files in ``secrets_dir``.
    """
    values = {name: getattr(security, name, None) for name in _TLS}
    if not any(values.values()):
        return {}
    config: dict[str, Any] = {"distributed.comm.require-encryption": True}
    for name, value in values.items():
        if value:
            config[f"distributed.comm.tls.{_TLS[name]}"] = _as_file(str(value), secrets_dir / f"{name}.pem")
    return config


def _as_file(value: str, path: Path) -> str:
    if not value.lstrip().startswith("-----BEGIN"):
        return value  # already a file path
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as out:
        out.write(value)
    return str(path)
