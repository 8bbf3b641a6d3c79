"""Async engines for PostgreSQL (psycopg 3) and SQLite (aiosqlite), and their URLs."""

from __future__ import annotations

import contextlib
import math
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from dpr.adapters.sql.mapping import decode_json, encode_json

SQLITE_BUSY_TIMEOUT_MS = 30_000
# psycopg's connect_timeout is whole seconds and at least 2: it bounds one attempt, so a host
# that drops packets cannot stall a request for the OS's minutes-long TCP timeout.
MAX_ATTEMPT_SECONDS = 10
# A pooled connection idle for longer than this is pinged before it is handed out, so sockets
# a database restart left dead are replaced instead of failing a request. Connections in steady
# use skip the ping: ``pool_pre_ping`` would add a round trip to every statement.
PING_AFTER_IDLE_SECONDS = 2.0
# Set in a connection's info by whoever kept it checked out while it sat idle (a lane,
# lanes.py): since when, so that time counts towards the ping.
IDLE_SINCE = "dpr_idle_since"


def create_sql_engine(
    url: str | URL,
    *,
    pool_size: int = 10,
    max_overflow: int = 0,
    pool_timeout: float = 30.0,
    connect_timeout: float = 10.0,
) -> AsyncEngine:
    """An engine that survives restarts (idle connections are pinged) and stores JSON with msgspec.

    The pool keeps ``pool_size`` connections; by default a burst waits up to ``pool_timeout``
    seconds for one of them rather than opening overflow connections that are closed again
    as soon as they are returned (a new PostgreSQL session costs more than a point query).

    For SQLite it creates the file's folder and turns on WAL and a busy timeout, so readers
    never block the writer and concurrent writers wait instead of failing.
    """
    sa_url = make_url(url)
    options: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
        "json_serializer": encode_json,
        "json_deserializer": decode_json,
    }
    if sa_url.get_backend_name() == "sqlite":
        _make_parent_folder(sa_url)
        options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        engine = create_async_engine(sa_url, **options)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    attempt = max(2, min(MAX_ATTEMPT_SECONDS, math.ceil(connect_timeout)))
    options["connect_args"] = {"connect_timeout": attempt}
    engine = create_async_engine(sa_url, **options)
    event.listen(engine.sync_engine, "connect", _postgres_session)
    _ping_idle_connections(engine)
    return engine


def _postgres_session(dbapi_connection: Any, _record: Any) -> None:
    """Plan every execution of a prepared statement with its parameters, and let the connection
    send the arrays the batched writes build (``binary_arrays.py``).

    psycopg prepares a statement the fifth time it runs; PostgreSQL may then keep one generic
    plan for the connection's lifetime, chosen from the table as it was at that moment. On a
    new service the jobs table is nearly empty then, the plan is a sequential scan, and every
    compare-and-set later reads the whole table (seen: 30 million rows read in a 10 s burst,
    event recording 25x slower). A custom plan costs a few microseconds of planning and follows
    the table as it grows.
    """
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET plan_cache_mode = force_custom_plan")
    finally:
        cursor.close()
    dbapi_connection.commit()  # the setting outlives the transaction psycopg opened for it
    from dpr.adapters.sql.binary_arrays import register_dumpers  # psycopg: PostgreSQL only

    register_dumpers(dbapi_connection.driver_connection.adapters)


def _ping_idle_connections(engine: AsyncEngine) -> None:
    """Ping a connection on checkout when it sat idle in the pool, replacing it if dead.

    After a failure in use SQLAlchemy already discards the whole pool (a disconnect
    invalidates every older connection), so only idle ones need the check.
    """
    dialect = engine.sync_engine.dialect

    def on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = record.info.pop(IDLE_SINCE, None) or time.monotonic()

    def on_checkout(dbapi_connection: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.pop("idle_since", None)
        if idle_since is None or time.monotonic() - idle_since < PING_AFTER_IDLE_SECONDS:
            return
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception:
            alive = False
        if not alive:
            # The pool takes this as "reconnect": it discards the connection and makes another.
            raise sa_exc.DisconnectionError("an idle connection no longer answers")

    # Listening on the engine, not its pool, keeps the hooks on the pool ``dispose()`` makes.
    event.listen(engine.sync_engine, "checkin", on_checkin)
    event.listen(engine.sync_engine, "checkout", on_checkout)


def _make_parent_folder(url: URL) -> None:
    database = url.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        path = Path(database).expanduser()
        # Jobs hold inputs and logs: the folder and file are the service user's only (SQLite
        # gives its -wal and -shm files the database file's permissions).
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not path.exists():  # anything else there is for SQLite to refuse (then Unavailable)
            with contextlib.suppress(FileExistsError):  # another process made it meanwhile
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL makes NORMAL durable against application crashes; FULL only adds power-loss
        # safety for the last transactions, at a sync per commit.
        cursor.execute("PRAGMA synchronous=NORMAL")
    finally:
        cursor.close()


def url_from_postgres_env(env: Mapping[str, str]) -> str | None:
    """The database URL from rs-dpr-service's ``POSTGRES_*`` variables, or None without a host.

    Reads ``POSTGRES_HOST``, ``POSTGRES_PORT`` (default 5432), ``POSTGRES_DB`` (default
    ``postgres``), ``POSTGRES_USER`` (default ``postgres``) and ``POSTGRES_PASSWORD``. Special
    characters in the user or password are escaped, so any password works.
    """
    host = env.get("POSTGRES_HOST", "").strip()
    if not host:
        return None
    port = env.get("POSTGRES_PORT", "").strip() or "5432"
    if not port.isdigit():
        raise ValueError(f"POSTGRES_PORT must be a port number, not {port!r}")
    url = URL.create(
        "postgresql+psycopg",
        username=env.get("POSTGRES_USER") or "postgres",
        password=env.get("POSTGRES_PASSWORD") or None,
        host=host,
        port=int(port),
        database=env.get("POSTGRES_DB") or "postgres",
    )
    return url.render_as_string(hide_password=False)
