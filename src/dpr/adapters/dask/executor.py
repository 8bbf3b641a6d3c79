"""The Executor port on a Dask cluster.

Each job is one task, keyed ``dpr-job-<job id>``, running ``dask_task`` on a worker; its events
come back through the scheduler (see ``tracking``). On a durable cluster each task is also
published under its key, so it outlives this process and a restarted service (or any other
instance) can adopt it. A worker dying under a job makes the task err with ``KilledWorker``
(at once when the scheduler's ``allowed-failures`` is 0, as on the embedded cluster), or the
scheduler runs it again by itself (an external scheduler with its default ``allowed-failures``),
which the tracker sees as a second run starting; either way the job runs again only while its
``retries`` allow, else it fails (and a re-run by the scheduler is stopped). An adopted job's
events sent while no instance listened are replayed from the scheduler's event log. An order's
``placement`` may name another cluster (see ``routes``); its credentials are used to connect and
never leave this process. Every ``check_every`` seconds each cluster connection is checked: after
the client reconnected it subscribes again and replays the event log, and a job whose task the
scheduler forgot is failed rather than left waiting for ever.
"""

from __future__ import annotations

import logging

from distributed import Client
from msgspec.structs import replace

from dpr.adapters.dask.routes import PlacementSources, Route, Routes, names_cluster, open_route
from dpr.adapters.dask.sources import ClusterSource
from dpr.adapters.dask.tracing import with_current_context
from dpr.adapters.dask.tracker_machine import Adoption, adoption, cancel_steps
from dpr.adapters.dask.wire import TaskSpec, WorkerTuning, encode_spec, task_key
from dpr.domain.errors import Unavailable
from dpr.domain.job import Job
from dpr.domain.run import Placement, WorkOrder
from dpr.domain.status import JobStatus
from dpr.ports.executor import EventHandler, Executor

log = logging.getLogger(__name__)


class DaskExecutor(Executor):
    """Runs work orders as Dask tasks on the cluster ``source`` connects to, or on the cluster an
    order's placement names when ``placements`` says how to reach it.

    E.g. ``DaskExecutor(SchedulerSource("tcp://127.0.0.1:8786"), tuning=WorkerTuning(cancel_grace=10))``.
    """

    def __init__(
        self,
        source: ClusterSource,
        *,
        tuning: WorkerTuning | None = None,
        placements: PlacementSources | None = None,
        check_every: float = 10.0,
    ) -> None:
        self.source = source
        self.check_every = check_every  # seconds between health checks of the scheduler connection
        self.tuning = tuning or WorkerTuning()
        self.placements = placements
        self._routes: Routes | None = None

    async def start(self, handler: EventHandler) -> None:
        linger = self.tuning.cancel_grace + 5  # how long a cancelled, started job may still report
        try:
            own: Route | None = await open_route(self.source, handler, linger, self.check_every)
        except Unavailable as e:  # a gateway deployment may have no default cluster: requests name theirs
            if self.placements is None:
                raise
            log.warning("no default cluster (%s): only jobs whose request names a cluster can run", e)
            own = None
        self._routes = Routes(own, self.placements, handler, linger, self.check_every)

    def reference(self, order: WorkOrder) -> str | None:
        """``dask:<key>`` for an order bound for the executor's own cluster, so the job is stored
        with it in one write; ``None`` for one whose placement names another cluster (its name
        there is known once connected)."""
        elsewhere = names_cluster(order.placement) and self.placements is not None
        return None if elsewhere else f"dask:{task_key(order.job_id)}"

    @property
    def durable(self) -> bool:
        return self.source.durable

    async def submit(self, order: WorkOrder) -> str:
        route = await self._started().for_placement(order.placement)
        shipped = replace(with_current_context(order), placement=None)  # credentials stay here
        spec = encode_spec(TaskSpec(order=shipped, tuning=self.tuning))
        retries, key = order.processor.retries, task_key(order.job_id)
        try:  # sent with the other jobs submitted meanwhile, and watched
            future = await route.launches.submit(order.job_id, spec, retries)
        except (OSError, RuntimeError) as e:
            raise Unavailable("dask cluster", str(e)) from e
        if route.source.durable:
            try:
                await route.calls.publish(order.job_id, future, retries)
            except Unavailable:  # the service fails the job: the task must not run unseen
                route.jobs.drop(order.job_id)
                await route.calls.client.cancel([future], force=True)
                raise
        return f"dask:{key}" if route is self._started().own or route.name is None else f"dask:{route.name}/{key}"

    async def cancel(self, job: Job) -> None:
        job_id = job.job_id
        route = self._started().watching(job_id) or await self._placed(job)
        if route is None:
            return
        route.jobs.cancel_requested(job_id)
        stop, lower_flag_after = cancel_steps(await route.calls.state(job_id))
        if not stop:  # unknown, or ended: its outcome stands
            return
        await route.calls.stop(job_id, route.jobs.future_of(job_id))
        route.calls.unpublish(job_id)
        if lower_flag_after is not None:  # it never started: no processor will read or clear the flag
            route.jobs.later(lower_flag_after, route.calls.lower_flag, job_id)

    async def adopt(self, job: Job) -> bool:
        routes = self._started()
        if routes.watching(job.job_id) is not None:
            return True
        route = await self._route_of(job)
        if route is None:
            return False
        durable = route.source.durable
        published = await route.calls.published(job.job_id) if durable else None
        state = await route.calls.state(job.job_id) if published is not None else None
        match adoption(durable, published is not None, state):
            case Adoption.FORGOTTEN:
                route.calls.unpublish(job.job_id)
            case Adoption.FOLLOW if published is not None:
                future, retries = published
                started = job.status is JobStatus.RUNNING
                route.jobs.watch(job.job_id, future, retries, started=started, replay=True)
                return True
        return False

    async def close(self) -> None:
        if self._routes is not None:
            await self._routes.close()
        self._routes = None

    def dashboard_link(self) -> str | None:
        return self.source.dashboard_link()

    @property
    def client(self) -> Client | None:
        """The client of the executor's own cluster (for operators and tests), once started."""
        own = self._routes.own if self._routes is not None else None
        return own.calls.client if own is not None else None

    def tracks(self, job_id: str) -> bool:
        """Whether this executor follows the job (submitted or adopted here), for tests."""
        return self._routes is not None and self._routes.watching(job_id) is not None

    async def drained(self) -> None:
        """Wait until every event received so far was handled (for tests)."""
        if self._routes is not None:
            for route in self._routes.all():
                await route.jobs.drained()

    async def _route_of(self, job: Job) -> Route | None:
        """The route of the cluster the job was placed on, ``None`` when it cannot be reached."""
        try:
            return await self._placed(job)
        except Unavailable:
            return None

    async def _placed(self, job: Job) -> Route | None:
        """Where the job was sent, by this instance or any other: ``dask:<cluster>/<key>`` names
        a placement cluster (reached with the executor's own credentials), ``dask:<key>`` the
        own one. ``None`` when the executor has no way to reach the cluster named; raises
        ``Unavailable`` when it cannot reach it now."""
        routes = self._started()
        ref = (job.executor_ref or "").removeprefix("dask:")
        cluster, _, _key = ref.rpartition("/")
        if not cluster:
            return routes.own
        if self.placements is None:
            return None
        return await routes.for_placement(Placement(cluster_instance=cluster))

    def _started(self) -> Routes:
        if self._routes is None:
            raise Unavailable("dask cluster", "the executor is not started")
        return self._routes
