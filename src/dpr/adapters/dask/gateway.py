"""A cluster behind Dask Gateway, picked by label, reached with a JupyterHub token.

The token is used only to ask the gateway which clusters exist and for the chosen cluster's TLS
credentials; the gateway client is closed before the scheduler connection is made, so the token
is held by nothing the executor keeps (and never by a task, a job record or a log line).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from distributed import Client

from dpr.adapters.dask.sources import ClusterSource
from dpr.domain.errors import Unavailable
from dpr.domain.run import JUPYTER_TOKEN, Placement

WHAT = "dask gateway"
TOKEN_CREDENTIAL = JUPYTER_TOKEN  # the placement credential rs-dpr-service clients send


class GatewaySource(ClusterSource):
    """The running gateway cluster whose option ``label_option`` equals ``cluster_label``
    (and whose name is ``cluster_instance``, when given).

    ``token`` is called at each connection, so a rotated token is picked up and the source keeps
    no copy of it.
    """

    def __init__(
        self,
        address: str,
        *,
        cluster_label: str | None = None,
        cluster_instance: str | None = None,
        token: Callable[[], str | None] = lambda: None,
        proxy_address: str | None = None,
        label_option: str = "cluster_name",
        timeout: float = 30.0,
    ) -> None:
        self.address, self.proxy_address, self.timeout = address, proxy_address, timeout
        self.cluster_label, self.cluster_instance, self.label_option = cluster_label, cluster_instance, label_option
        self._token = token
        self._dashboard: str | None = None
        self.cluster_name: str | None = None

    @classmethod
    def for_placement(
        cls,
        address: str,
        placement: Placement,
        *,
        fallback_token: Callable[[], str | None] = lambda: None,
        **options: Any,
    ) -> GatewaySource:
        """The cluster a request named, reached with the request's token (handed over once, to
        connect) or, without one (re-adopting jobs after a restart), with ``fallback_token``."""
        token = placement.credentials.get(TOKEN_CREDENTIAL)
        return cls(
            address,
            cluster_label=placement.cluster_label,
            cluster_instance=placement.cluster_instance,
            token=_once(token) if token else fallback_token,
            **options,
        )

    async def connect(self) -> Client:
        report = await self._choose_cluster()
        self.cluster_name, self._dashboard = report.name, report.dashboard_link
        try:
            return await Client(
                report.scheduler_address,
                security=report.security,
                asynchronous=True,
                set_as_default=False,
                timeout=self.timeout,
            )
        except (OSError, TimeoutError) as e:
            raise Unavailable(WHAT, f"cluster {report.name}: {e}") from e

    def dashboard_link(self) -> str | None:
        return self._dashboard

    async def verify(self, cluster_name: str | None) -> None:
        """Ask the gateway, with this source's token, for the cluster this source names: it
        must be ``cluster_name`` (a route opened earlier), else ``Unavailable``."""
        report = await self._choose_cluster()
        if report.name != cluster_name:
            raise Unavailable(WHAT, f"the cluster these credentials reach is not {cluster_name}")

    async def _choose_cluster(self) -> Any:
        try:
            from dask_gateway import Gateway, JupyterHubAuth
        except ImportError as e:  # an optional dependency of the gateway kind
            raise Unavailable(WHAT, "the dask-gateway package is not installed") from e
        token = self._token()
        gateway = Gateway(
            address=self.address,
            proxy_address=self.proxy_address,
            asynchronous=True,
            auth=JupyterHubAuth(api_token=token) if token else None,
        )
        try:
            name = choose(await gateway.list_clusters(), self.cluster_label, self.cluster_instance, self.label_option)
            return await gateway.get_cluster(name)
        except Unavailable:
            raise
        except Exception as e:  # aiohttp, HTTP and gateway errors; their text never holds the token
            raise Unavailable(WHAT, f"{self.address}: {type(e).__name__}: {e}") from None
        finally:
            await gateway.close()


def _once(secret: str) -> Callable[[], str | None]:
    """A token provider that forgets the token once it was read."""
    box = [secret]
    return lambda: box.pop() if box else None


def choose(reports: Sequence[Any], label: str | None, instance: str | None, label_option: str) -> str:
    """The name of the running cluster matching ``label`` and ``instance`` (first by name)."""
    running = [r for r in reports if str(getattr(r.status, "name", r.status)).upper() == "RUNNING"]
    matching = sorted(
        (
            r.name
            for r in running
            if (label is None or (r.options or {}).get(label_option) == label) and instance in (None, r.name)
        ),
    )
    if not matching:
        wanted = " and ".join(filter(None, [label and f"{label_option}={label!r}", instance and f"name {instance!r}"]))
        raise Unavailable(WHAT, f"no running cluster with {wanted or 'any name'} (running: {len(running)})")
    return matching[0]
