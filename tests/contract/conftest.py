"""Adapter fixtures for the contract suites: every port's suite runs against every adapter.

PostgreSQL tests use the server at ``DPR_TEST_POSTGRES_URL`` (default: the local trust-auth
server on 5432) and give the test run its own database, dropped at the end. When the variable is
unset and nothing answers on 5432, they start a private server from the installed PostgreSQL
binaries (``tests/pg_server.py``). Without either they skip, except under ``CI=true`` where they
fail: CI must never pass by skipping them.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest
from contract_support import empty_tables, in_ci, psycopg_connect
from sqlalchemy.engine import URL, make_url

from dpr.adapters.memory_job_repository import InMemoryJobRepository
from dpr.adapters.memory_log_store import InMemoryJobLogStore
from dpr.adapters.sql import upgrade_url
from dpr.ports.job_repository import JobRepository
from dpr.ports.log_store import JobLogStore
from tests.pg_server import postgres_bin, private_postgres
from tests.sql_stores import open_sql_store
from tests.waiting import scaled

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"

T = TypeVar("T")

ADAPTERS = [
    pytest.param("memory", id="memory"),
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]
SQL_ADAPTERS = ADAPTERS[1:]


def run_in_thread(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine to completion on a private loop in another thread.

    Sync fixtures may run while pytest-asyncio owns this thread's loop; ``asyncio.run`` here
    would replace (and then clear) that loop.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, make()).result()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[URL]:
    """The URL of a reachable PostgreSQL server's admin database, or skip (fail under CI)."""
    given = os.environ.get("DPR_TEST_POSTGRES_URL")
    url = make_url(given or DEFAULT_POSTGRES_URL)
    try:
        psycopg_connect(url, connect_timeout=round(scaled(5))).close()
    except psycopg.OperationalError as error:
        where = url.render_as_string(hide_password=True)
        message = f"PostgreSQL at {where} is unreachable ({' '.join(str(error).split())})"
        if not given and postgres_bin() is not None:
            with private_postgres() as private:  # a server of our own, removed at the end
                yield make_url(private.url())
            return
        if in_ci():
            pytest.fail(f"CI=true and {message}: the postgres tests must run in CI")
        pytest.skip(f"{message}; set DPR_TEST_POSTGRES_URL, start the server or install PostgreSQL")
    yield url


@pytest.fixture(scope="session")
def postgres_databases(postgres_server: URL) -> Iterator[Callable[[], str]]:
    """A factory of fresh, empty databases on the test server, all dropped at the end."""
    created: list[str] = []

    def create() -> str:
        name = f"dpr_test_{secrets.token_hex(6)}"
        with psycopg_connect(postgres_server, autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        created.append(name)
        return postgres_server.set(database=name).render_as_string(hide_password=False)

    yield create
    with psycopg_connect(postgres_server, autocommit=True) as admin:
        for name in created:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def postgres_url(postgres_databases: Callable[[], str]) -> str:
    """This test run's migrated database; tests empty its tables before use."""
    url = postgres_databases()
    run_in_thread(lambda: upgrade_url(url))
    return url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that tests copy, rather than migrating one file per test."""
    path = tmp_path_factory.mktemp("sqlite-template") / "dpr.db"
    run_in_thread(lambda: upgrade_url(f"sqlite+aiosqlite:///{path}"))
    return path


def sqlite_copy(template: Path, folder: Path) -> str:
    target = folder / "dpr.db"
    target.write_bytes(template.read_bytes())
    return f"sqlite+aiosqlite:///{target}"


def migrated_database(request: pytest.FixtureRequest, tmp_path: Path, kind: str) -> str:
    """An empty, migrated database of ``kind`` (sqlite or postgres) for one test."""
    if kind == "sqlite":
        return sqlite_copy(request.getfixturevalue("sqlite_template"), tmp_path)
    url: str = request.getfixturevalue("postgres_url")
    empty_tables(url)
    return url


@pytest.fixture(params=ADAPTERS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """The URL of an empty, migrated database for one test, or None for the memory adapters."""
    return None if request.param == "memory" else migrated_database(request, tmp_path, request.param)


@pytest.fixture
async def stores(database_url: str | None) -> AsyncIterator[tuple[JobRepository, JobLogStore]]:
    """A job repository and a log store of one adapter family, on one database."""
    if database_url is None:
        yield InMemoryJobRepository(), InMemoryJobLogStore()
        return
    repository, log_store = await open_sql_store(database_url, connect_timeout=5, migrate=False)
    try:
        yield repository, log_store
    finally:
        await repository.close()


@pytest.fixture
def repository(stores: tuple[JobRepository, JobLogStore]) -> JobRepository:
    return stores[0]


@pytest.fixture
def log_store(stores: tuple[JobRepository, JobLogStore]) -> JobLogStore:
    return stores[1]


@pytest.fixture(params=SQL_ADAPTERS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Like ``database_url``, for the SQL adapters only."""
    return migrated_database(request, tmp_path, request.param)


@pytest.fixture(params=SQL_ADAPTERS)
def empty_sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database no migration has touched yet: a new SQLite file or a new PostgreSQL database."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}"
    create: Callable[[], str] = request.getfixturevalue("postgres_databases")
    return create()
