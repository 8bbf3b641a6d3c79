"""The container builds every provider on each branch of its selectors, and its lifespan starts
and stops what it opened. (Here rather than in the unit tier: it imports SQLAlchemy and Dask.)"""

from __future__ import annotations

import msgspec
import pytest

from dpr.adapters.config import ConfigError, load_settings
from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.settings import (
    ExecutorSettings,
    LocationSettings,
    ProcessDefinition,
    ProcessSettings,
    SecuritySettings,
    Settings,
    StorageSettings,
    ephemeral,
)
from dpr.domain.locations import LocationPolicy, LocationRules
from dpr.entrypoints.container import Container, build_container, running
from dpr.ports.executor import Executor
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore

STORAGES = {"memory": "memory://", "sql": "sqlite+aiosqlite:///never-opened.sqlite"}
EXECUTORS = {
    "fake": ExecutorSettings(kind="fake"),
    "local": ExecutorSettings(kind="local"),
    "scheduler": ExecutorSettings(kind="scheduler", address="tcp://127.0.0.1:8786"),
    "gateway": ExecutorSettings(kind="gateway", address="http://127.0.0.1:8000"),
}
# Not built here: the settings are given, the engine is part of the sql branch, the Resources
# start things (the lifespan test does), and upgrade_database migrates when called.
SKIPPED = {
    "settings",
    "_engine",
    "database",
    "storage",
    "references",
    "callbacks",
    "execution",
    "purge",
    "upgrade_database",
}


@pytest.mark.parametrize("storage", sorted(STORAGES))
@pytest.mark.parametrize("executor", sorted(EXECUTORS))
def test_every_provider_builds_on_each_storage_and_executor(storage, executor):
    settings = Settings(storage=StorageSettings(url=STORAGES[storage]), executor=EXECUTORS[executor])
    container = build_container(settings)
    container.check_dependencies()
    built = {name: provider() for name, provider in container.providers.items() if name not in SKIPPED}
    assert isinstance(built["repository"], JobRepository) and isinstance(built["log_store"], JobLogStore)
    assert isinstance(built["executor"], Executor)
    assert type(built["repository"]).__name__.startswith("Sql" if storage == "sql" else "InMemory")
    assert (type(built["executor"]).__name__ == "FakeExecutor") is (executor == "fake")
    assert built["queries"].catalog is built["catalog"] and built["submission"].records is built["records"]


def test_a_container_without_settings_is_refused():
    with pytest.raises(Exception, match="undefined dependencies"):
        Container().check_dependencies()


async def test_the_lifespan_starts_the_executor_and_stops_it_on_exit():
    container = build_container(ephemeral())
    executor = container.executor()
    assert isinstance(executor, FakeExecutor)
    async with running(container) as lost:
        assert lost == [] and container.execution.initialized
    assert not container.execution.initialized and not container.storage.initialized
    assert not container.database.initialized


async def test_the_lifespan_opens_the_database_and_closes_it_on_exit(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'dpr.sqlite'}"
    container = build_container(Settings(storage=StorageSettings(url=url), executor=ExecutorSettings(kind="fake")))
    async with running(container) as lost:
        assert lost == [] and container.database.initialized and container.storage.initialized
        assert await container.queries().active_count() == 0  # migrated: the jobs table is there
    assert not container.database.initialized and not container.storage.initialized


def test_a_misspelt_section_fails_at_start_up(tmp_path):
    path = tmp_path / "dpr.yaml"
    path.write_text("storge:\n  url: memory://\n")
    with pytest.raises(ConfigError, match="unknown key 'storge'"):
        load_settings(path, env={})


def test_settings_refuse_unknown_keys_at_every_level():
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"server": {"prot": 80}}, Settings)
    with pytest.raises(msgspec.ValidationError, match="unknown field"):
        msgspec.convert({"srever": {}}, Settings)


def test_each_processor_reference_carries_its_process_s_location_policy_to_the_worker():
    echo = ProcessDefinition(id="echo", processor="dpr.adapters.processors.echo:EchoProcessor")
    narrow = ProcessDefinition(
        id="narrow", processor="dpr.adapters.processors.echo:EchoProcessor", locations=["s3://b/narrow"]
    )
    settings = Settings(
        processes=ProcessSettings(definitions=[echo, narrow]),
        locations=LocationSettings(allow=["s3://b", "file:///data"]),
        security=SecuritySettings(allow_internal_urls=True),
    )
    refs = build_container(ephemeral(settings)).processor_refs()
    deployment = LocationRules(allow=("s3://b", "file:///data"))
    assert refs["echo"].locations == LocationPolicy(rules=(deployment,), allow_internal_urls=True)
    assert refs["narrow"].locations.rules == (deployment, LocationRules(allow=("s3://b/narrow",)))
