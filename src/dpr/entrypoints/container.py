"""The composition root: the one place that names ports' adapters and reads settings."""

from __future__ import annotations

from dependency_injector import containers, providers

from dpr.adapters.catalog import build_catalog
from dpr.adapters.clock import SystemClock, UuidIdGenerator
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.http_outbound import HttpNotifier, HttpReferenceFetcher
from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.settings import Settings
from dpr.services.jobs import JobService, Limits


def storage_kind(settings: Settings) -> str:
    """``memory`` or ``sql``, from the scheme of ``storage.url``."""
    scheme = settings.storage.url.split(":", 1)[0].lower()
    if scheme == "memory":
        return "memory"
    raise ValueError(f"storage.url: unsupported scheme {scheme!r} (use memory://)")


def executor_kind(settings: Settings) -> str:
    kind = settings.executor.kind
    if kind != "fake":
        raise ValueError(f"executor.kind: {kind!r} is not available yet (use fake)")
    return kind


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

    repository = providers.Selector(
        providers.Callable(storage_kind, settings),
        memory=providers.Singleton(InMemoryJobRepository),
    )
    log_store = providers.Selector(
        providers.Callable(storage_kind, settings),
        memory=providers.Singleton(InMemoryJobLogStore),
    )
    executor = providers.Selector(
        providers.Callable(executor_kind, settings),
        fake=providers.Singleton(FakeExecutor, max_workers=providers.Callable(
            lambda s: s.executor.workers * s.executor.threads_per_worker, settings)),
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
    )


def build_container(settings: Settings) -> Container:
    return Container(settings=settings)
