"""The Dask executor on a Dask Gateway cluster, authenticated by a real JupyterHub.

The hub runs without its HTTP proxy (only its REST API is needed: the gateway asks it who a
token belongs to); the gateway runs its local backend, so schedulers and workers are processes of
this machine. The cluster is picked by its ``cluster_name`` option, as in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec
import pytest
from dask_gateway import Gateway, JupyterHubAuth

from dpr.adapters.clock import UuidIdGenerator
from dpr.adapters.dask import DaskExecutor, GatewaySource, WorkerTuning
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import ProcessSettings
from dpr.domain.errors import Unavailable
from dpr.domain.mode import Preference
from dpr.domain.run import Placement
from dpr.domain.status import JobStatus
from tests.builders import execute_body
from tests.integration.server import free_port, wait_for_port
from tests.services import Services, wire
from tests.waiting import async_wait_for, scaled, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BIN = Path(sys.executable).parent
LABEL = "dpr-test"

HUB_CONFIG = """
from jupyterhub.proxy import Proxy

class NoProxy(Proxy):
    '''Nothing is served through the hub's public proxy in this test: only the hub's API.'''
    should_start = False
    async def add_route(self, routespec, target, data): pass
    async def delete_route(self, routespec): pass
    async def get_all_routes(self): return {{}}

c.JupyterHub.proxy_class = NoProxy
c.JupyterHub.ip, c.JupyterHub.port = "127.0.0.1", {public_port}
c.JupyterHub.hub_ip, c.JupyterHub.hub_port = "127.0.0.1", {hub_port}
c.JupyterHub.db_url = "sqlite:///{folder}/hub.sqlite"
c.JupyterHub.cookie_secret_file = "{folder}/cookie_secret"
c.JupyterHub.authenticator_class = "dummy"
c.Authenticator.allowed_users = {{"alice"}}
c.JupyterHub.services = [{{"name": "admin", "api_token": "{admin_token}"}}]
c.JupyterHub.load_roles = [
    {{"name": "token-maker", "scopes": ["admin:users", "tokens"], "services": ["admin"]}},
    {{"name": "user", "scopes": ["self"], "users": ["alice"]}},
]
"""

GATEWAY_CONFIG = """
from dask_gateway_server.options import Options, String

c.DaskGateway.address = "127.0.0.1:{api_port}"
c.Proxy.address = "127.0.0.1:{proxy_port}"
c.DaskGateway.backend_class = "dask_gateway_server.backends.local.UnsafeLocalBackend"
c.DaskGateway.authenticator_class = "dask_gateway_server.auth.JupyterHubAuthenticator"
c.JupyterHubAuthenticator.jupyterhub_api_url = "http://127.0.0.1:{hub_port}/hub/api"
c.JupyterHubAuthenticator.jupyterhub_api_token = "{admin_token}"
c.JupyterHubAuthenticator.jupyterhub_service_name = "admin"
c.JupyterHubAuthenticator.use_service_access_scopes = False
c.UnsafeLocalBackend.clusters_directory = "{folder}/clusters"
c.ClusterConfig.scheduler_cmd = ["{bin}/dask", "scheduler"]
c.ClusterConfig.worker_cmd = ["{bin}/dask", "worker"]
c.ClusterConfig.worker_cores = 1
c.ClusterConfig.worker_memory = 0.5
c.ClusterConfig.idle_timeout = 0
c.Backend.cluster_options = Options(String("cluster_name", default="default", label="Cluster name"),
                                    handler=lambda options: {{}})
"""


class Stack:
    """A JupyterHub (API only) and a Dask Gateway that asks it about tokens."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.hub_port, self.proxy_port, api_port = free_port(), free_port(), free_port()
        self.admin_token = secrets.token_hex(16)
        self.address = f"http://127.0.0.1:{self.proxy_port}"
        (folder / "clusters").mkdir()
        fill = dict(folder=folder, hub_port=self.hub_port, admin_token=self.admin_token, bin=BIN)
        (folder / "hub_config.py").write_text(HUB_CONFIG.format(public_port=free_port(), **fill))
        gateway = GATEWAY_CONFIG.format(api_port=api_port, proxy_port=self.proxy_port, **fill)
        (folder / "gateway_config.py").write_text(gateway)
        self.processes: list[subprocess.Popen[bytes]] = []
        try:
            self.processes.append(self._spawn("hub", [str(BIN / "jupyterhub"), "-f", "hub_config.py"]))
            wait_for_port(self.hub_port, timeout=60)
            self.processes.append(self._spawn("gateway", [str(BIN / "dask-gateway-server"), "-f", "gateway_config.py"]))
            wait_for_port(self.proxy_port, timeout=60)
            wait_for_health(f"{self.address}/api/health")
        except BaseException:
            self.stop()
            raise

    def user_token(self, user: str = "alice") -> str:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.hub_port}/hub/api/users/{user}/tokens",
            method="POST",
            data=json.dumps({"note": "dpr test", "expires_in": 3600}).encode(),
            headers={"Authorization": f"token {self.admin_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            return str(json.load(answer)["token"])

    def stop(self) -> None:
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def _spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        with open(self.folder / f"{name}.log", "wb") as out:
            return subprocess.Popen(argv, cwd=self.folder, env=dict(os.environ), stdout=out, stderr=subprocess.STDOUT)


def wait_for_health(url: str, timeout: float = 60) -> None:
    """Until the gateway's proxy routes its API (it serves 404 before it has its routing table)."""

    def routed() -> bool:
        with urllib.request.urlopen(url, timeout=scaled(5)) as answer:
            return bool(answer.status == 200)

    wait_for(routed, timeout, f"{url} to answer", ignoring=(OSError,), interval=0.2)


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("gateway"))
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
async def token(stack: Stack) -> str:
    """Alice's JupyterHub token, with a one-worker cluster labelled ``dpr-test`` running for her."""
    token = stack.user_token()
    async with Gateway(stack.address, auth=JupyterHubAuth(api_token=token), asynchronous=True) as gateway:
        if not [c for c in await gateway.list_clusters() if c.options.get("cluster_name") == LABEL]:
            cluster = await gateway.new_cluster(cluster_name=LABEL, shutdown_on_close=False)
            await cluster.scale(1)
            async with cluster.get_client(set_as_default=False) as client:
                await client.wait_for_workers(1, timeout=60)
            await cluster.close()
    return token


def service_on(
    source: GatewaySource,
    logs: InMemoryJobLogStore,
    repository: InMemoryJobRepository | None = None,
    placements: Callable[[Placement], GatewaySource] | None = None,
) -> Services:
    executor = DaskExecutor(source, tuning=WorkerTuning(), placements=placements)
    return wire(
        ProcessSettings(enabled=["mockup"]),
        repository=repository or InMemoryJobRepository(),
        log_store=logs,
        executor=executor,
        ids=UuidIdGenerator(),
    )


async def test_jobs_run_on_the_gateway_cluster_chosen_by_label_and_the_token_is_kept_nowhere(stack, token, caplog):
    caplog.set_level(logging.DEBUG)
    source = GatewaySource(stack.address, cluster_label=LABEL, token=lambda: token)
    logs = InMemoryJobLogStore()
    service = service_on(source, logs)
    await service.start()
    try:
        job = (
            await service.submission.execute(
                "mockup", execute_body({"inputs": {"duration": 0.2}}), Preference(respond_async=True)
            )
        ).job
        done = await service.queries.wait(job.job_id, 60)
        assert done.status is JobStatus.SUCCESSFUL, done.error
        assert source.cluster_name is not None and source.dashboard_link() is not None
        records = msgspec.json.encode(await service.queries.status(job.job_id)).decode()
        lines = repr(await logs.read(job.job_id))
        assert token not in records and token not in lines and token not in caplog.text
        assert token not in repr(vars(source)) and token not in repr(vars(service.executor))
    finally:
        await service.close()


async def test_no_cluster_with_the_label_is_an_unavailable_cluster(stack, token):
    source = GatewaySource(stack.address, cluster_label="no-such-label", token=lambda: token)
    with pytest.raises(Unavailable, match="no running cluster with cluster_name='no-such-label'"):
        await source.connect()


async def test_a_token_the_hub_rejects_is_an_unavailable_cluster_without_the_token_in_the_message(stack, token):
    bad = "not-a-token-" + secrets.token_hex(8)
    source = GatewaySource(stack.address, cluster_label=LABEL, token=lambda: bad)
    started = time.monotonic()
    with pytest.raises(Unavailable) as caught:
        await source.connect()
    assert bad not in str(caught.value) and time.monotonic() - started < 30


async def test_a_request_names_its_cluster_and_brings_its_token_and_a_restarted_service_adopts_the_job(
    stack, token, caplog
):
    """rs-dpr-service's way: no default cluster; each request carries cluster_label + jupyter_token."""
    caplog.set_level(logging.DEBUG)
    service_token = lambda: token  # noqa: E731 - what JUPYTERHUB_API_TOKEN gives the restarted service
    placements = lambda p: GatewaySource.for_placement(stack.address, p)  # noqa: E731
    repository, logs = InMemoryJobRepository(), InMemoryJobLogStore()
    first = service_on(GatewaySource(stack.address, cluster_label="no-default"), logs, repository, placements)
    await first.start()  # warns that there is no default cluster, and runs
    placement = Placement(cluster_label=LABEL, credentials={"jupyter_token": token})
    job = (
        await first.submission.execute(
            "mockup", execute_body({"inputs": {"duration": 2}}), Preference(respond_async=True), placement=placement
        )
    ).job
    assert job.executor_ref is not None and job.executor_ref.startswith("dask:") and "/dpr-job-" in job.executor_ref
    await first.close()
    adopting = lambda p: GatewaySource.for_placement(stack.address, p, fallback_token=service_token)  # noqa: E731
    second = service_on(GatewaySource(stack.address, cluster_label="no-default"), logs, repository, adopting)
    try:
        assert await second.start() == []
        done = await second.queries.wait(job.job_id, 60)
        assert done.status is JobStatus.SUCCESSFUL, done.error
        records = msgspec.json.encode(done).decode()
        assert token not in records and token not in repr(await logs.read(job.job_id)) and token not in caplog.text
    finally:
        await second.close()


async def task_state(stack: Stack, token: str, cluster_name: str, key: str) -> str | None:
    """The state of ``key`` on the gateway cluster ``cluster_name``, asked with alice's token."""
    async with Gateway(stack.address, auth=JupyterHubAuth(api_token=token), asynchronous=True) as gateway:
        cluster = await gateway.connect(cluster_name, shutdown_on_close=False)
        async with cluster.get_client(set_as_default=False) as client:
            states = await client.scheduler.get_task_status(keys=[key])
        await cluster.close()
    return states.get(key)


async def test_an_instance_that_never_reached_the_requests_cluster_dismisses_its_job_there(stack, token):
    """The job runs on the cluster its request named; another instance, with no default cluster
    and no route to that one, stops it from what the job's record says about its placement."""
    placements = lambda p: GatewaySource.for_placement(stack.address, p, fallback_token=lambda: token)  # noqa: E731
    repository, logs = InMemoryJobRepository(), InMemoryJobLogStore()
    first = service_on(GatewaySource(stack.address, cluster_label="no-default"), logs, repository, placements)
    second = service_on(GatewaySource(stack.address, cluster_label="no-default"), logs, repository, placements)
    await first.start()
    await second.start()
    try:
        placement = Placement(cluster_label=LABEL, credentials={"jupyter_token": token})
        body = execute_body({"inputs": {"duration": 120}})
        job = (await first.submission.execute("mockup", body, Preference(respond_async=True), placement=placement)).job
        assert job.executor_ref is not None
        cluster_name, key = job.executor_ref.removeprefix("dask:").split("/")
        await async_wait_for(
            lambda: task_state(stack, token, cluster_name, key), 60, "the job's task to reach its cluster"
        )
        dismissed = await second.dismissal.dismiss(job.job_id)
        assert dismissed.status is JobStatus.DISMISSED
        await async_wait_for(
            lambda: _gone(stack, token, cluster_name, key), 60, "the dismissed job's task to leave its cluster"
        )
        assert (await first.queries.status(job.job_id)).status is JobStatus.DISMISSED
    finally:
        await asyncio.gather(first.close(), second.close())


async def _gone(stack: Stack, token: str, cluster_name: str, key: str) -> bool:
    return await task_state(stack, token, cluster_name, key) is None
