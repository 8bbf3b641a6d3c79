"""The embedded LocalCluster in a process of its own (``LocalClusterSource(own_process=True)``).

The scheduler (and the nannies of the worker processes) then have a core of their own instead
of sharing the server's one thread with HTTP, SQL and the tracker; raw Dask needs only that
core. The process imports nothing of dpr but this module (its memory is distributed's). It
reads its set-up as JSON from its first argument (``command`` below: the service's
``sys.path``, which the worker processes it spawns inherit, so they import the same dpr as the
service; the LocalCluster's options; Dask settings). Its standard input is one end of a socket
pair whose other end the service holds: once the cluster is up it writes one line of JSON to
it (``{"address": ..., "dashboard": ...}``), then runs until the service's end closes: when the
service closes it, and also when the service dies, however (the kernel closes the socket), so
the cluster never outlives the service. Its standard output and error are the service's, as
are its workers' (where a processor's prints go).
"""

from __future__ import annotations

import json
import os
import signal
from typing import Any

# Run with ``python -c BOOT SETUP``: the service's own ``sys.path`` first, then this module.
BOOT = (
    "import json, sys; setup = json.loads(sys.argv[1]); sys.path[:] = setup['path']; "
    "from dpr.adapters.dask.cluster_process import main; main(setup)"
)
CHANNEL = 0  # standard input: a socket to the service


def command(python: str, path: list[str], options: dict[str, Any], config: dict[str, Any]) -> list[str]:
    """The command line of a cluster process."""
    return [python, "-c", BOOT, json.dumps({"path": path, "options": options, "config": config})]


def main(setup: dict[str, Any]) -> None:
    # Ctrl-C in a terminal is the service's to handle; it closes this process in turn.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    options, config = setup["options"], setup["config"]

    import dask
    from distributed import LocalCluster

    dask.config.set(config)
    cluster = LocalCluster(**options, asynchronous=False)
    try:
        dashboard = cluster.dashboard_link if options.get("scheduler_kwargs", {}).get("dashboard") else None
        report = json.dumps({"address": cluster.scheduler_address, "dashboard": dashboard}) + "\n"
        os.write(CHANNEL, report.encode())
        while os.read(CHANNEL, 4096):  # until the service closes its end (or ends)
            pass
    finally:
        cluster.close(timeout=10)
