"""The composition root: the one place that names ports' adapters and reads settings."""

from __future__ import annotations

import os

from dependency_injector import containers, providers

from dpr.adapters.catalog import build_catalog
from dpr.adapters.clock import SystemClock, UuidIdGenerator
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.http_outbound import HttpNotifier, HttpReferenceFetcher
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import Settings
from dpr.domain.execute import ResponseMode
from dpr.ports.executor import Executor
from dpr.services.jobs import JobService, Limits

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


def sql_engine(settings: Settings) -> object:
    """The SQL engine (imported here so a memory-backed server never loads SQLAlchemy's drivers)."""
    from dpr.adapters.sql.engine import create_sql_engine

    st = settings.storage
    return create_sql_engine(
        storage_url(settings), pool_size=st.pool_size, max_overflow=st.max_overflow, connect_timeout=st.connect_timeout
    )


def sql_repository(engine: object, settings: Settings) -> object:
    from dpr.adapters.sql import SqlJobRepository

    st = settings.storage
    return SqlJobRepository(
        engine, connect_timeout=st.connect_timeout, connect_pause=st.connect_pause, migrate=st.migrate_on_start
    )  # type: ignore[arg-type]


def sql_log_store(engine: object) -> object:
    from dpr.adapters.sql import SqlJobLogStore

    return SqlJobLogStore(engine)  # type: ignore[arg-type]


def executor_kind(settings: Settings) -> str:
    """``fake`` (threads of this process), or Dask: ``local``, ``scheduler`` or ``gateway``."""
    kind = settings.executor.kind
    if kind in ("scheduler", "gateway") and not settings.executor.address:
        raise ValueError(f"executor.kind {kind!r} needs executor.address")
    return kind


def dask_executor(settings: Settings) -> Executor:
    """The Dask executor on the cluster ``executor.kind`` names. The gateway's own token is read
    from the variable ``executor.token_env`` names, when connecting, never stored."""
    # Imported here: distributed is heavy, and a fake-executor server or the CLI never needs it.
    from dpr.adapters.dask import (
        DaskExecutor,
        GatewaySource,
        LocalClusterSource,
        SchedulerSource,
        WorkerTuning,
    )

    ex = settings.executor
    source: LocalClusterSource | SchedulerSource | GatewaySource
    if ex.kind == "local":
        needed = {name for d in settings.processes.definitions for name in d.env}
        source = LocalClusterSource(
            workers=ex.workers, threads_per_worker=ex.threads_per_worker, memory_limit=ex.memory_limit, keep_env=needed
        )
    elif ex.kind == "gateway":
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
        )
    else:
        source = SchedulerSource(str(ex.address))
    return DaskExecutor(source, tuning=WorkerTuning(cancel_grace=ex.cancel_grace))


def limits_of(settings: Settings) -> Limits:
    lim = settings.limits
    return Limits(
        max_active=lim.max_active,
        max_active_per_process=lim.max_active_per_process,
        retry_after=lim.retry_after,
        sync_timeout=lim.sync_timeout,
    )


class Container(containers.DeclarativeContainer):
    """Adapters chosen from the settings; ``override()`` any provider in tests."""

    settings = providers.Dependency(instance_of=Settings)

    clock = providers.Singleton(SystemClock)
    ids = providers.Singleton(UuidIdGenerator)

    _catalog = providers.Singleton(build_catalog, settings.provided.processes)
    catalog = providers.Callable(lambda built: built[0], _catalog)
    processor_refs = providers.Callable(lambda built: built[1], _catalog)

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

    job_service = providers.Singleton(
        JobService,
        repository=repository,
        executor=executor,
        catalog=catalog,
        processors=processor_refs,
        logs=log_store,
        clock=clock,
        ids=ids,
        limits=providers.Callable(limits_of, settings),
        fetcher=providers.Singleton(
            HttpReferenceFetcher,
            allow_internal=settings.provided.security.allow_internal_urls,
            max_bytes=settings.provided.security.max_reference_bytes,
            timeout=settings.provided.security.reference_timeout,
        ),
        notifier=providers.Singleton(
            HttpNotifier,
            allow_internal=settings.provided.security.allow_internal_urls,
            attempts=settings.provided.security.callback_attempts,
            backoff=settings.provided.security.callback_backoff,
        ),
        public_base=providers.Callable(lambda s: s.server.base_url or "", settings),
        response_default=providers.Callable(lambda s: ResponseMode(s.ogc.response_default), settings),
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
