"""The clusters one executor talks to: its own, plus one per cluster callers asked for.

A route is a connected client with its scheduler calls and its job tracker. Orders whose
``placement`` names a cluster (rs-dpr-service's ``cluster_label`` / ``cluster_instance``) go to
that cluster's route, opened on first use with the credentials the order carries. A route is
reused only by orders with the same credentials (compared by a keyed digest: no copy is kept),
and only once the cluster's guard (the gateway) has accepted this order's credentials again.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from dpr.adapters.dask.launches import Launches
from dpr.adapters.dask.scheduler_calls import SchedulerCalls
from dpr.adapters.dask.sources import ClusterSource
from dpr.adapters.dask.tracking import JobTracker
from dpr.adapters.dask.wire import TOPIC
from dpr.domain.errors import Unavailable
from dpr.domain.run import Placement
from dpr.ports.executor import EventHandler

PlacementSources = Callable[[Placement], ClusterSource]
"""Builds the source of the cluster a placement names (e.g. ``GatewaySource.for_placement``)."""


def names_cluster(placement: Placement | None) -> bool:
    """Whether ``placement`` asks for a cluster of its own (else the executor's own one runs it)."""
    return placement is not None and bool(placement.cluster_label or placement.cluster_instance)


@dataclass(slots=True)
class Route:
    source: ClusterSource
    calls: SchedulerCalls
    jobs: JobTracker
    launches: Launches

    @property
    def name(self) -> str | None:
        """The cluster's name when it has one (a gateway cluster's id), for executor refs."""
        return getattr(self.source, "cluster_name", None)

    async def close(self) -> None:
        if self.calls.running:
            self.calls.client.unsubscribe_topic(TOPIC)
        await self.launches.drained()
        await self.jobs.close()
        await self.calls.idle()
        await self.calls.client.close()
        await self.source.close()


async def open_route(source: ClusterSource, handler: EventHandler, linger: float, check_every: float) -> Route:
    """Connect to ``source``'s cluster and start following events of the jobs sent there
    (and checking every ``check_every`` seconds that the scheduler still knows them)."""
    client = await source.connect()
    calls = SchedulerCalls(client)
    jobs = JobTracker(calls, handler, durable=source.durable, linger=linger, check_every=check_every)
    jobs.start()
    return Route(source, calls, jobs, Launches(jobs))


class Routes:
    """The executor's own route and the placement routes opened so far."""

    def __init__(
        self,
        own: Route | None,
        placements: PlacementSources | None,
        handler: EventHandler,
        linger: float,
        check_every: float,
    ) -> None:
        self.own, self._placements, self._handler, self._linger = own, placements, handler, linger
        self._check_every = check_every
        self._others: dict[tuple[str | None, str | None, str], Route] = {}
        self._lock = asyncio.Lock()
        self._key = secrets.token_bytes(32)  # for credential digests that outlive no process

    def all(self) -> list[Route]:
        return [r for r in (self.own, *self._others.values()) if r is not None]

    def watching(self, job_id: str) -> Route | None:
        return next((r for r in self.all() if r.jobs.watching(job_id)), None)

    async def for_placement(self, placement: Placement | None) -> Route:
        """The route of the cluster ``placement`` names; the own route when it names none or the
        executor was given no way to reach other clusters."""
        if placement is None or not names_cluster(placement) or self._placements is None:
            if self.own is None:
                raise Unavailable("dask cluster", "the request names no cluster and there is no default one")
            return self.own
        digest = self._digest(placement.credentials)
        wanted = (placement.cluster_label, placement.cluster_instance, digest)
        async with self._lock:
            route = self._others.get(wanted) or self._named(placement.cluster_instance, digest)
            if route is None or not route.calls.running:
                route = await open_route(self._placements(placement), self._handler, self._linger, self._check_every)
                self._others[wanted] = route
                return route
        source = self._placements(placement)
        try:
            await source.verify(route.name)
        finally:
            await source.close()
        return route

    async def close(self) -> None:
        routes, self._others = self.all(), {}
        await asyncio.gather(*(r.close() for r in routes))

    def _named(self, name: str | None, digest: str) -> Route | None:
        return next(
            (r for (_, _, d), r in self._others.items() if name is not None and r.name == name and d == digest), None
        )

    def _digest(self, credentials: Mapping[str, str]) -> str:
        return hmac.new(self._key, json.dumps(sorted(credentials.items())).encode(), hashlib.sha256).hexdigest()
