"""The settings dpr runs with, as typed Structs. Unknown keys are errors."""

from __future__ import annotations

from typing import Literal

import msgspec

from dpr.domain.process import JobControl


class _Section(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    pass


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8000
    base_url: str | None = None  # set when behind a proxy; else taken from each request
    title: str = "dpr"
    description: str = "Earth-observation data processors as OGC API - Processes jobs"
    cors_origins: list[str] = msgspec.field(default_factory=list)  # origins whose pages may call the API
    # Host headers accepted (``name`` or ``name:port``); others are a 400. Empty: any (loopback use).
    trusted_hosts: list[str] = msgspec.field(default_factory=list)
    lease: float = 30.0  # seconds an instance's active jobs stay its own without a heartbeat
    # Seconds a clean stop (SIGTERM, Ctrl-C) waits for the jobs running on the embedded cluster
    # before failing them as stopped; jobs on a durable cluster are handed over at once.
    grace_period: float = 30.0


EMBEDDED_STORAGE = "sqlite+aiosqlite:///data/dpr.sqlite"  # relative to the working directory


class StorageSettings(_Section):
    url: str = EMBEDDED_STORAGE
    # Connections each server process keeps open. Requests beyond them wait for one (up to
    # pool_timeout seconds, then a 503) instead of opening more: a connection made for one
    # query and closed after it cost more than the query (600 new sessions in 8 s at 32
    # concurrent readers with 10 overflow connections per worker). Under load the store's
    # batchers keep up to five of them between their statements, and only while another is
    # idle in the pool (adapters/sql/lanes.py).
    pool_size: int = 10
    max_overflow: int = 0  # extra connections opened (and closed again) under load
    pool_timeout: float = 30.0
    connect_timeout: float = 30.0  # how long start-up waits for the database
    connect_pause: float = 1.0
    migrate_on_start: bool = True


class ExecutorSettings(_Section):
    kind: Literal["fake", "local", "scheduler", "gateway"] = "local"
    address: str | None = None
    workers: int = 2
    threads_per_worker: int = 1
    memory_limit: str = "auto"
    # kind local: the scheduler (and the workers' nannies) in a process of their own, with a
    # core of their own, instead of on the server's event loop (about 60 MiB more)
    scheduler_process: bool = True
    cancel_grace: float = 10.0
    health_check: float = 10.0  # seconds between checks that the scheduler still knows the jobs followed
    # Dask Gateway (kind: gateway): the default cluster, unless a request names its own.
    cluster_label: str | None = None
    cluster_instance: str | None = None
    proxy_address: str | None = None
    token_env: str = "JUPYTERHUB_API_TOKEN"  # the variable holding the service's own token


class LimitSettings(_Section):
    max_active: int | None = 32  # outstanding (accepted or running) jobs; null: no bound
    max_active_per_process: int | None = None
    # of them, submitted by one owner (a principal's subject; all anonymous callers are one):
    # one client cannot take every slot
    max_active_per_owner: int | None = 16
    retry_after: int = 5
    sync_timeout: float = 300.0
    max_log_line: int = 8192  # characters of one log line kept; the rest is cut
    max_log_lines: int = 100_000  # lines of one job's log kept; later ones are dropped
    max_streams: int = 200  # log streams (server-sent events) open at once
    max_streams_per_client: int = 10  # of them, from one client address
    stream_idle_timeout: float = 600.0  # seconds without a log line before a stream is closed


class ProcessDefinition(_Section):
    id: str
    processor: str
    options: dict[str, object] = msgspec.field(default_factory=dict)
    env: list[str] = msgspec.field(default_factory=list)
    retries: int = 0
    locations: list[str] | None = None  # prefixes this process may use, within locations.allow
    # the execution modes offered (jobControlOptions), in place of the processor's own
    job_control: list[JobControl] | None = None
    roles: list[str] | None = None  # who may run it (with auth.methods): None = any principal


class ProcessSettings(_Section):
    enabled: list[str] | None = None
    definitions: list[ProcessDefinition] = msgspec.field(default_factory=list)


class OgcSettings(_Section):
    # the response mode of an execute request that names none: raw (OGC API - Processes 1.0)
    # or document (Processes 2.0, and clients such as cuiman that follow it)
    response_default: Literal["raw", "document"] = "raw"


class SecuritySettings(_Section):
    allow_internal_urls: bool = False  # let href inputs and callbacks reach loopback/private hosts
    max_reference_bytes: int = 10 * 2**20
    reference_timeout: float = 30.0
    callback_attempts: int = 5
    callback_backoff: float = 1.0


class LocationSettings(_Section):
    # Prefixes the locations processors read and write must lie under: s3://bucket/prefix
    # (s3:// for any bucket), file:///local/root, https://host/path (through the SSRF guard).
    allow: list[str] = msgspec.field(default_factory=lambda: ["s3://"])


AUTH_METHODS = ("api_key", "oidc")
ASYMMETRIC_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


class OidcSettings(_Section):
    """OpenID Connect bearer tokens (``auth.methods`` with ``oidc``): JWTs signed by ``issuer``."""

    issuer: str | None = None  # the issuer URL; its keys come from <issuer>/.well-known/openid-configuration
    audience: str | None = None  # the `aud` every token must name (this service's client id)
    roles_claim: str = "realm_access.roles"  # dotted path to the list of roles (Keycloak's realm roles)
    algorithms: list[str] = msgspec.field(default_factory=lambda: list(ASYMMETRIC_ALGORITHMS))
    leeway: float = 30.0  # seconds of clock difference forgiven on exp, nbf and iat
    jwks_cache: float = 300.0  # seconds the issuer's keys are used before they are fetched again
    jwks_min_refresh: float = 10.0  # at most one fetch per this many seconds for unknown key ids
    http_timeout: float = 5.0  # seconds for a discovery or key-set request
    retry_after: int = 10  # Retry-After of the 503 answered while the issuer cannot be reached


class AuthSettings(_Section):
    # How callers prove who they are: any of AUTH_METHODS; empty means anonymous access.
    methods: list[Literal["api_key", "oidc"]] = msgspec.field(default_factory=list)
    api_key_header: str = "x-api-key"  # also accepted: Authorization: Bearer <key>
    allow_anonymous_remote: bool = False  # let `dpr serve` listen beyond loopback without auth
    # seconds an API key's record is reused without reading the store: a key revoked on another
    # instance is refused at most this long after; 0 reads the store on every request
    key_cache: float = 2.0
    oidc: OidcSettings = msgspec.field(default_factory=OidcSettings)

    @property
    def anonymous(self) -> bool:
        return not self.methods


class RetentionSettings(_Section):
    days: float | None = 30.0  # ended jobs and their logs are deleted this long after they end; null: kept
    every: float = 3600.0  # seconds between purges


class LoggingSettings(_Section):
    level: str = "INFO"


class Settings(_Section):
    """Everything dpr runs with. The defaults are ``dpr serve``'s embedded set-up: jobs in a
    SQLite file under ``./data``, run on an embedded Dask cluster. ``ephemeral()``
    keeps everything in this process instead (tests, ``--ephemeral``)."""

    server: ServerSettings = msgspec.field(default_factory=ServerSettings)
    storage: StorageSettings = msgspec.field(default_factory=StorageSettings)
    executor: ExecutorSettings = msgspec.field(default_factory=ExecutorSettings)
    limits: LimitSettings = msgspec.field(default_factory=LimitSettings)
    processes: ProcessSettings = msgspec.field(default_factory=ProcessSettings)
    security: SecuritySettings = msgspec.field(default_factory=SecuritySettings)
    locations: LocationSettings = msgspec.field(default_factory=LocationSettings)
    ogc: OgcSettings = msgspec.field(default_factory=OgcSettings)
    logging: LoggingSettings = msgspec.field(default_factory=LoggingSettings)
    auth: AuthSettings = msgspec.field(default_factory=AuthSettings)
    retention: RetentionSettings = msgspec.field(default_factory=RetentionSettings)


def ephemeral(settings: Settings | None = None) -> Settings:
    """``settings`` (or the defaults) with jobs in memory, run in this process's threads."""
    base = settings or Settings()
    return msgspec.structs.replace(
        base,
        storage=msgspec.structs.replace(base.storage, url="memory://"),
        executor=msgspec.structs.replace(base.executor, kind="fake"),
    )
