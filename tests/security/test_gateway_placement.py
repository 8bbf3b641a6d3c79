"""Attacks on the Dask Gateway placement (issue 14, section 1), against a real JupyterHub and
Dask Gateway: a route to a cluster, opened with one caller's token, must not carry a request
whose own token the gateway would refuse."""

from __future__ import annotations

import json
import secrets
import urllib.request
from collections.abc import Iterator

import pytest
from dask_gateway import Gateway, JupyterHubAuth

from dpr.adapters.dask import GatewaySource
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.domain.errors import Unavailable
from dpr.domain.mode import Preference
from dpr.domain.run import Placement
from dpr.domain.status import JobStatus
from tests.builders import execute_body
from tests.integration.test_dask_gateway import LABEL, Stack, service_on

pytestmark = [pytest.mark.slow]


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    running = Stack(tmp_path_factory.mktemp("gateway"))
    try:
        yield running
    finally:
        running.stop()


def new_token(stack: Stack) -> tuple[str, str]:
    """A fresh token of alice's and its id (to revoke it)."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.hub_port}/hub/api/users/alice/tokens",
        method="POST",
        data=json.dumps({"note": "dpr security test", "expires_in": 3600}).encode(),
        headers={"Authorization": f"token {stack.admin_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        made = json.load(answer)
    return str(made["token"]), str(made["id"])


def revoke(stack: Stack, token_id: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.hub_port}/hub/api/users/alice/tokens/{token_id}",
        method="DELETE",
        headers={"Authorization": f"token {stack.admin_token}"},
    )
    urllib.request.urlopen(request, timeout=10).close()


@pytest.fixture
async def service(hub: Stack):
    """A service with no default cluster; alice's cluster labelled ``dpr-test`` is running."""
    token, _ = new_token(hub)
    async with Gateway(hub.address, auth=JupyterHubAuth(api_token=token), asynchronous=True) as gateway:
        if not [c for c in await gateway.list_clusters() if c.options.get("cluster_name") == LABEL]:
            cluster = await gateway.new_cluster(cluster_name=LABEL, shutdown_on_close=False)
            await cluster.scale(1)
            async with cluster.get_client(set_as_default=False) as client:
                await client.wait_for_workers(1, timeout=60)
            await cluster.close()
    placements = lambda p: GatewaySource.for_placement(hub.address, p)  # noqa: E731
    svc = service_on(GatewaySource(hub.address, cluster_label="no-default"), InMemoryJobLogStore(), None, placements)
    await svc.start()
    yield svc
    await svc.close()


async def run_on_cluster(service, token: str):
    placement = Placement(cluster_label=LABEL, credentials={"jupyter_token": token})
    run = await service.submission.execute(
        "mockup", execute_body({"inputs": {"duration": 0.1}}), Preference(respond_async=True), placement=placement
    )
    return await service.queries.wait(run.job.job_id, 60)


async def test_a_cached_route_does_not_carry_a_request_with_a_token_the_gateway_refuses(hub, service):
    token, _ = new_token(hub)
    assert (await run_on_cluster(service, token)).status is JobStatus.SUCCESSFUL
    with pytest.raises(Unavailable):
        await run_on_cluster(service, "forged-" + secrets.token_hex(8))


async def test_every_request_s_token_is_checked_by_the_gateway_not_only_the_first(hub, service):
    token, token_id = new_token(hub)
    assert (await run_on_cluster(service, token)).status is JobStatus.SUCCESSFUL
    revoke(hub, token_id)
    with pytest.raises(Unavailable):
        await run_on_cluster(service, token)
