"""The composition root: the one place that names ports' adapters and reads settings."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator, Sequence
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, Protocol

import msgspec
from dependency_injector import containers, providers
from msgspec.structs import replace

from dpr.adapters.api_key_authenticator import ApiKeyAuthenticator
from dpr.adapters.background_start import BackgroundStart
from dpr.adapters.cached_key_store import CachedKeyStore
from dpr.adapters.catalog import build_catalog
from dpr.adapters.clock import SystemClock, UuidIdGenerator
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.location_policy import PolicyLocationGuard
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_key_store import InMemoryKeyStore
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import Settings
from dpr.domain.execute import ResponseMode
from dpr.domain.job import Job
from dpr.domain.locations import LocationPolicy, LocationRules
from dpr.domain.run import LogLimits, ProcessorRef
from dpr.ports.authenticator import Authenticator
from dpr.ports.clock import Clock
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.ports.key_store import KeyStore
from dpr.ports.notifier import Notifier
from dpr.ports.reference_fetcher import ReferenceFetcher
from dpr.services.dismissal import Dismissal
from dpr.services.identity import Identification
from dpr.services.inputs import Inputs
from dpr.services.instance import InstanceIds
from dpr.services.keys import KeyManagement
from dpr.services.lifecycle import Lifecycle
from dpr.services.logs import FollowTiming
from dpr.services.queries import JobQueries
from dpr.services.records import JobRecords
from dpr.services.recovery import Recovery
from dpr.services.retention import Retention
from dpr.services.submission import Limits, Submission

if TYPE_CHECKING:  # imported when used: a memory-backed server never loads SQLAlchemy's drivers
    from sqlalchemy.ext.asyncio import AsyncEngine

    from dpr.adapters.dask import LocalClusterSource
    from dpr.adapters.sql import SqlJobLogStore, SqlJobRepository
    from dpr.adapters.sql.key_store import SqlKeyStore

log = logging.getLogger("dpr")

# Seconds the embedded cluster's build waits, so the port opens first (uvicorn binds it once the
# lifespan started; importing distributed meanwhile would slow that down).
STARTED_PORT = 0.3

SQL_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "sqlite": "sqlite+aiosqlite"}


def storage_url(settings: Settings) -> str:
    """``storage.url`` with the async driver named (``postgresql://`` -> ``postgresql+psycopg://``)."""
    url = settings.storage.url
    scheme, sep, rest = url.partition("://")
    return f"{SQL_DRIVERS[scheme.lower()]}{sep}{rest}" if scheme.lower() in SQL_DRIVERS else url


def storage_kind(settings: Settings) -> str:
    """``memory`` or ``sql``, from the scheme of ``storage.url``."""
    scheme = storage_url(settings).split(":", 1)[0].lower()
    if scheme == "memory":
        return "memory"
    if scheme in ("postgresql+psycopg", "sqlite+aiosqlite"):
        return "sql"
    raise ValueError(
        f"storage.url: unsupported scheme {scheme!r} (use memory://, sqlite+aiosqlite:///path "
        "or postgresql+psycopg://user@host/db)"
    )


def sql_engine(settings: Settings) -> AsyncEngine:
    """The SQL engine (imported here so a memory-backed server never loads SQLAlchemy's drivers)."""
    from dpr.adapters.sql.engine import create_sql_engine

    st = settings.storage
    return create_sql_engine(
        storage_url(settings),
        pool_size=st.pool_size,
        max_overflow=st.max_overflow,
        pool_timeout=st.pool_timeout,
        connect_timeout=st.connect_timeout,
    )


def sql_repository(engine: AsyncEngine, settings: Settings) -> SqlJobRepository:
    from dpr.adapters.sql import SqlJobRepository

    st = settings.storage
    return SqlJobRepository(
        engine, connect_timeout=st.connect_timeout, connect_pause=st.connect_pause, migrate=st.migrate_on_start
    )


def sql_log_store(engine: AsyncEngine) -> SqlJobLogStore:
    from dpr.adapters.sql import SqlJobLogStore

    return SqlJobLogStore(engine)


def sql_key_store(engine: AsyncEngine) -> SqlKeyStore:
    from dpr.adapters.sql.key_store import SqlKeyStore

    return SqlKeyStore(engine)


def reference_fetcher(settings: Settings) -> ReferenceFetcher:
    """Fetches ``href`` inputs (httpx is imported here: wirings that put in their own never load it)."""
    from dpr.adapters.http_outbound import HttpReferenceFetcher

    sec = settings.security
    return HttpReferenceFetcher(
        allow_internal=sec.allow_internal_urls, max_bytes=sec.max_reference_bytes, timeout=sec.reference_timeout
    )


def http_notifier(settings: Settings) -> Notifier:
    """Posts job callbacks (httpx is imported here, as for ``reference_fetcher``)."""
    from dpr.adapters.http_outbound import HttpNotifier

    sec = settings.security
    return HttpNotifier(
        allow_internal=sec.allow_internal_urls, attempts=sec.callback_attempts, backoff=sec.callback_backoff
    )


def authenticators(settings: Settings, key_store: KeyStore, clock: Clock) -> list[Authenticator]:
    """One authenticator per entry of ``auth.methods`` (none: anonymous access)."""
    chosen: list[Authenticator] = []
    for method in dict.fromkeys(settings.auth.methods):
        if method == "api_key":
            chosen.append(ApiKeyAuthenticator(key_store, clock))
        else:
            chosen.append(oidc_authenticator(settings))
    return chosen


def cached_keys(settings: Settings, key_store: KeyStore) -> KeyStore:
    """The key store behind a cache of ``auth.key_cache`` seconds (0: none), which this
    instance's revocations clear at once and other instances' reach when it expires."""
    ttl = settings.auth.key_cache
    return CachedKeyStore(key_store, ttl=ttl) if ttl > 0 else key_store


def oidc_authenticator(settings: Settings) -> Authenticator:
    """OpenID Connect tokens of ``auth.oidc.issuer`` for ``auth.oidc.audience`` (both required)."""
    from dpr.adapters.oidc_authenticator import OidcAuthenticator
    from dpr.adapters.oidc_keys import IssuerKeys

    oidc = settings.auth.oidc
    if not oidc.issuer or not oidc.audience:
        raise ValueError("auth.methods has oidc: set auth.oidc.issuer and auth.oidc.audience")
    keys = IssuerKeys(
        oidc.issuer,
        cache_for=oidc.jwks_cache,
        min_refresh=oidc.jwks_min_refresh,
        timeout=oidc.http_timeout,
        retry_after=oidc.retry_after,
    )
    return OidcAuthenticator(
        keys, audience=oidc.audience, algorithms=oidc.algorithms, roles_claim=oidc.roles_claim, leeway=oidc.leeway
    )


def upgrade_database(settings: Settings) -> None:
    """Migrate the database of ``storage.url`` to the newest revision (``dpr db upgrade``)."""
    from dpr.adapters.sql.migrate import upgrade

    upgrade(storage_url(settings))


def executor_kind(settings: Settings) -> str:
    """``fake`` (threads of this process), or Dask: ``local``, ``scheduler`` or ``gateway``."""
    kind = settings.executor.kind
    if kind in ("scheduler", "gateway") and not settings.executor.address:
        raise ValueError(f"executor.kind {kind!r} needs executor.address")
    return kind


def dask_executor(settings: Settings) -> Executor:
    """The Dask executor on the cluster ``executor.kind`` names. The gateway's own token is read
    from the variable ``executor.token_env`` names, when connecting, never stored."""
    if settings.executor.kind == "local":
        return embedded_cluster(settings)
    # Imported here: distributed is heavy, and a fake-executor server or the CLI never needs it.
    from dpr.adapters.dask import DaskExecutor, GatewaySource, SchedulerSource, WorkerTuning

    ex = settings.executor
    source: SchedulerSource | GatewaySource
    if ex.kind == "gateway":
        address = str(ex.address)

        def service_token() -> str | None:
            return os.environ.get(ex.token_env)

        source = GatewaySource(
            address,
            cluster_label=ex.cluster_label,
            cluster_instance=ex.cluster_instance,
            proxy_address=ex.proxy_address,
            token=service_token,
        )
        return DaskExecutor(
            source,
            tuning=WorkerTuning(cancel_grace=ex.cancel_grace),
            placements=lambda p: GatewaySource.for_placement(address, p, fallback_token=service_token),
            check_every=ex.health_check,
        )
    else:
        source = SchedulerSource(str(ex.address))
    return DaskExecutor(source, tuning=WorkerTuning(cancel_grace=ex.cancel_grace), check_every=ex.health_check)


def embedded_cluster(settings: Settings) -> Executor:
    """The Dask executor on an embedded LocalCluster. Its worker processes take seconds to
    spawn (and distributed a second to import): the service answers meanwhile, and the jobs it
    accepts wait for the cluster (``BackgroundStart``)."""
    from dpr.adapters.dask.wire import task_key

    ex = settings.executor

    def make() -> Executor:
        from dpr.adapters.dask import DaskExecutor, SchedulerSource, WorkerTuning

        # With an address, the embedded cluster is the one the parent of ``--http-workers`` runs.
        source = local_cluster(settings) if ex.address is None else SchedulerSource(ex.address, durable=False)
        return DaskExecutor(source, tuning=WorkerTuning(cancel_grace=ex.cancel_grace))

    return BackgroundStart(
        make,
        "the embedded Dask cluster",
        reference=lambda order: f"dask:{task_key(order.job_id)}",
        durable=False,
        delay=STARTED_PORT,
    )


def local_cluster(settings: Settings) -> LocalClusterSource:
    """The embedded LocalCluster ``executor`` describes; its worker processes inherit only the
    variables the configured processors declare (besides the basics)."""
    from dpr.adapters.dask import LocalClusterSource

    ex = settings.executor
    needed = {name for d in settings.processes.definitions for name in d.env}
    return LocalClusterSource(
        workers=ex.workers,
        threads_per_worker=ex.threads_per_worker,
        memory_limit=ex.memory_limit,
        keep_env=needed,
        own_process=ex.scheduler_process,
        on_lost=stop_service,
    )


def stop_service(reason: str) -> None:
    """The embedded cluster's process ended under the service: stop as SIGTERM does (drain,
    fail the jobs that were running there); a new start brings up a new cluster and queues the
    accepted jobs again."""
    log.error("%s: stopping the service, whose jobs cannot run any more", reason)
    os.kill(os.getpid(), signal.SIGTERM)


@contextlib.contextmanager
def shared_cluster(settings: Settings) -> Iterator[Settings]:
    """For the parent of ``--http-workers`` on the embedded cluster: one LocalCluster for all
    the workers, started here (from the main thread) and stopped on exit; yields the workers'
    settings, which name its scheduler (``executor.address`` with kind ``local``)."""
    source = local_cluster(settings)
    address = source.start_shared()
    try:
        yield msgspec.structs.replace(settings, executor=msgspec.structs.replace(settings.executor, address=address))
    finally:
        source.stop_shared()


def limits_of(settings: Settings) -> Limits:
    lim = settings.limits
    return Limits(
        max_active=lim.max_active,
        max_active_per_process=lim.max_active_per_process,
        max_active_per_owner=lim.max_active_per_owner,
        retry_after=lim.retry_after,
        sync_timeout=lim.sync_timeout,
        log=LogLimits(line_chars=lim.max_log_line, lines=lim.max_log_lines),
    )


def follow_timing(settings: Settings) -> FollowTiming:
    """Keep-alives at least as often as an idle stream is closed, so it is closed on time."""
    return FollowTiming(keep_alive=min(FollowTiming().keep_alive, settings.limits.stream_idle_timeout))


def location_rules(settings: Settings, process_id: str) -> tuple[LocationRules, ...]:
    """``locations.allow``, and the process's own ``locations`` when its definition has some."""
    own = next((d.locations for d in settings.processes.definitions if d.id == process_id), None)
    deployment = LocationRules(allow=tuple(settings.locations.allow))
    return (deployment, LocationRules(allow=tuple(own))) if own else (deployment,)


def with_location_policy(refs: dict[str, ProcessorRef], settings: Settings) -> dict[str, ProcessorRef]:
    """The processor references, each carrying its process's location policy to the worker
    (for the locations a processor learns only there: those an EOPF payload names)."""
    allow_internal = settings.security.allow_internal_urls
    return {
        process_id: replace(
            ref,
            locations=LocationPolicy(rules=location_rules(settings, process_id), allow_internal_urls=allow_internal),
        )
        for process_id, ref in refs.items()
    }


def location_guard(settings: Settings) -> PolicyLocationGuard:
    """The location policy: ``locations.allow``, narrowed per process by its ``locations``."""
    own = {d.id: LocationRules(allow=tuple(d.locations)) for d in settings.processes.definitions if d.locations}
    return PolicyLocationGuard(
        LocationRules(allow=tuple(settings.locations.allow)),
        own,
        allow_internal_urls=settings.security.allow_internal_urls,
    )


class Closable(Protocol):
    async def close(self) -> None: ...


async def disposed(engine: AsyncEngine | None) -> AsyncIterator[AsyncEngine | None]:
    """The SQL engine (``None`` for memory storage), its connections closed when the container stops."""
    try:
        yield engine
    finally:
        if engine is not None:
            from dpr.adapters.sql.lanes import close_lanes

            await close_lanes(engine)
            await engine.dispose()


async def opened(repository: JobRepository, engine: AsyncEngine | None) -> AsyncIterator[JobRepository]:
    """The repository, open (the database reached and migrated) until the container stops;
    closed before the ``engine`` it uses is disposed of."""
    await repository.open()
    try:
        yield repository
    finally:
        await repository.close()


async def closing(resource: Closable | None) -> AsyncIterator[Closable | None]:
    """An outbound client (or ``None`` where tests leave it out), closed when the container stops."""
    try:
        yield resource
    finally:
        if resource is not None:
            await resource.close()


async def started(executor: Executor, records: JobRecords, after: Sequence[Any]) -> AsyncIterator[Executor]:
    """The executor, reporting its events to ``records``; stopped before what it names in
    ``after`` (the store and the notifier its last events still reach)."""
    await executor.start(records.record)
    try:
        yield executor
    finally:
        await executor.close()


def instance_id() -> str:
    """A new id for this service instance: the host, the process, and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


async def purging(retention: Retention, settings: Settings, store: Any) -> AsyncIterator[asyncio.Task[None] | None]:
    """The periodic purge of ended jobs (``retention.days``; none when it is null), running
    while the store is open (``store`` orders it after the store's start)."""
    days = settings.retention.days
    task = None if days is None else asyncio.create_task(retention.run_every(settings.retention.every))
    try:
        yield task
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Container(containers.DeclarativeContainer):
    """Adapters chosen from the settings, the services built on them, and their lifetimes
    (``Resource``s started and stopped by ``running``); ``override()`` any provider in tests."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIdGenerator)
    # This instance's id in the store (its lease on its jobs): new at every start, and whenever
    # another instance took its lease over.
    instance = providers.Singleton(InstanceIds, providers.Callable(instance_id), providers.Object(instance_id))

    _catalog = providers.Singleton(build_catalog, settings.provided.processes)
    catalog = providers.Callable(lambda built: built[0], _catalog)
    processor_refs = providers.Singleton(
        with_location_policy, providers.Callable(lambda built: built[1], _catalog), settings
    )

    _engine = providers.Singleton(sql_engine, settings)
    repository = providers.Selector(
        providers.Callable(storage_kind, settings),
        memory=providers.Singleton(InMemoryJobRepository),
        sql=providers.Singleton(sql_repository, _engine, settings),
    )
    log_store = providers.Selector(
        providers.Callable(storage_kind, settings),
        memory=providers.Singleton(InMemoryJobLogStore),
        sql=providers.Singleton(sql_log_store, _engine),
    )
    key_store = providers.Selector(
        providers.Callable(storage_kind, settings),
        memory=providers.Singleton(InMemoryKeyStore),
        sql=providers.Singleton(sql_key_store, _engine),
    )
    _keys_read = providers.Singleton(cached_keys, settings, key_store)
    keys = providers.Singleton(KeyManagement, store=_keys_read, clock=clock)
    identification = providers.Singleton(
        Identification, providers.Callable(authenticators, settings, _keys_read, clock)
    )
    executor = providers.Selector(
        providers.Callable(executor_kind, settings),
        fake=providers.Singleton(
            FakeExecutor,
            max_workers=providers.Callable(lambda s: s.executor.workers * s.executor.threads_per_worker, settings),
        ),
        local=providers.Singleton(dask_executor, settings),
        scheduler=providers.Singleton(dask_executor, settings),
        gateway=providers.Singleton(dask_executor, settings),
    )
    fetcher = providers.Singleton(reference_fetcher, settings)
    notifier = providers.Singleton(http_notifier, settings)
    limits = providers.Singleton(limits_of, settings)

    records = providers.Singleton(
        JobRecords,
        repository,
        log_store,
        catalog,
        notifier,
        providers.Callable(lambda s: s.server.base_url or "", settings),
        instance=instance,
    )
    inputs = providers.Singleton(
        Inputs,
        catalog,
        fetcher,
        providers.Singleton(location_guard, settings),
        response_default=providers.Callable(lambda s: ResponseMode(s.ogc.response_default), settings),
    )

    lifecycle = providers.Singleton(
        Lifecycle,
        repository=repository,
        executor=executor,
        records=records,
        clock=clock,
        grace=settings.provided.server.grace_period,
        retry_after=settings.provided.limits.retry_after,
    )
    submission = providers.Singleton(
        Submission,
        lifecycle=lifecycle,
        repository=repository,
        executor=executor,
        catalog=catalog,
        processors=processor_refs,
        inputs=inputs,
        records=records,
        clock=clock,
        ids=ids,
        limits=limits,
        notifier=notifier,
        instance=instance,
        permissions=providers.Callable(
            lambda s: {d.id: frozenset(d.roles) for d in s.processes.definitions if d.roles is not None}, settings
        ),
    )
    queries = providers.Singleton(
        JobQueries,
        repository=repository,
        logs=log_store,
        catalog=catalog,
        clock=clock,
        waiters=records.provided.waiters,
        follow_timing=providers.Callable(follow_timing, settings),
    )
    dismissal = providers.Singleton(
        Dismissal,
        repository=repository,
        logs=log_store,
        catalog=catalog,
        executor=executor,
        records=records,
        clock=clock,
    )
    retention = providers.Singleton(
        Retention,
        repository=repository,
        logs=log_store,
        clock=clock,
        days=providers.Callable(lambda s: s.retention.days or 0.0, settings),
    )
    recovery = providers.Singleton(
        Recovery,
        repository=repository,
        executor=executor,
        records=records,
        clock=clock,
        instance=instance,
        lease=settings.provided.server.lease,
        requeue=submission.provided.requeue,
    )
    upgrade_database = providers.Callable(upgrade_database, settings)

    # Lifetimes: started by ``init_resources``, stopped by ``shutdown_resources`` (dependents first).
    database = providers.Resource(
        disposed,
        providers.Selector(providers.Callable(storage_kind, settings), memory=providers.Object(None), sql=_engine),
    )
    storage = providers.Resource(opened, repository, database)
    references = providers.Resource(closing, fetcher)
    callbacks = providers.Resource(closing, notifier)
    execution = providers.Resource(started, executor, records, providers.List(storage, callbacks))
    purge = providers.Resource(purging, retention, settings, storage)


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)


@asynccontextmanager
async def running(
    container: Container, *, recover: bool = True, storage_only: bool = False
) -> AsyncIterator[list[Job]]:
    """The container's resources started (store open, executor connected, outbound clients
    ready) and, unless ``recover`` is false, this instance's lease held and the jobs an earlier
    run left active settled; yields those that were failed because the executor lost them.
    Everything started stops on exit: the executor first (this instance stops following its
    jobs), then the lease is released (another instance takes them over at once), then the rest.

    An executor that starts in the background (the embedded cluster) does not hold the start
    up: the jobs left active are settled in the background once it is up (none are yielded).

    ``storage_only`` opens the store alone (waiting for the database and migrating it), for
    a process that prepares the database for others. The one lifespan of the server, the
    CLI's administration commands and the tests.
    """
    leasing: asyncio.Future[None] | None = None
    try:
        if storage_only:
            await _settled(container.storage.init())
            lost: list[Job] = []
        else:
            await _settled(container.init_resources())
            deferred = container.executor().starting() is not None
            lost = await _recovered(container, deferred) if recover else []
            leasing = asyncio.ensure_future(_leased(container, deferred)) if recover else None
        if lost:
            log.warning("%d job(s) left active by an earlier run were failed: their executor lost them", len(lost))
        yield lost
    finally:
        if leasing is not None:
            leasing.cancel()
            await asyncio.gather(leasing, return_exceptions=True)
            await _settled(container.execution.shutdown())
            await _released(container)
        await _settled(container.shutdown_resources())


async def _recovered(container: Container, deferred: bool) -> list[Job]:
    """Hold the lease and, unless the executor is still starting, settle the jobs left active."""
    recovery = container.recovery()
    if not deferred:
        return await recovery.recover()
    await recovery.hold()
    return []


async def _leased(container: Container, deferred: bool) -> None:
    """Keep the lease; when ``deferred``, meanwhile settle the jobs left active once the executor is up."""
    recovery = container.recovery()
    settling = asyncio.ensure_future(_settled_once_started(container)) if deferred else None
    try:
        await recovery.keep_lease()
    finally:
        if settling is not None:
            settling.cancel()
            await asyncio.gather(settling, return_exceptions=True)


async def _settled_once_started(container: Container) -> None:
    await container.executor().started()
    try:
        lost = await container.recovery().recover()
    except Exception:  # the store is down: the heartbeat tries again
        log.warning("could not settle the jobs left active", exc_info=True)
        return
    if lost:
        log.warning("%d job(s) left active by an earlier run were failed: their executor lost them", len(lost))


async def _released(container: Container) -> None:
    """Hand this instance's jobs on at once (a clean stop); a store that is down lets the lease expire."""
    try:
        await container.recovery().release()
    except Exception:
        log.warning("could not release this instance's lease: its jobs move when it expires", exc_info=True)


async def _settled(outcome: Awaitable[Any] | None) -> None:
    """Wait for what dependency-injector returns when a resource is async (``None`` otherwise)."""
    if outcome is not None:
        await outcome
