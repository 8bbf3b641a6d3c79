"""Isolation, at random: several principals submit, list, read and dismiss through the API on
memory, SQLite and PostgreSQL; none ever sees or affects another's job, admins see all, and
no key or token is ever stored, logged or answered. Two users present API keys, the third an
OpenID Connect token of a small issuer on 127.0.0.1 (both methods are on, as in production
set-ups that accept both)."""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

import msgspec
import psycopg
import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule, run_state_machine_as_test
from litestar.testing import TestClient
from sqlalchemy.engine import make_url

from dpr.adapters.settings import AuthSettings, OidcSettings, ProcessSettings, Settings, StorageSettings, ephemeral
from dpr.entrypoints.container import Container, build_container
from dpr.entrypoints.http.app import create_app
from tests.oidc_issuer import AUDIENCE, OidcIssuer, SigningKey, running_issuer
from tests.unit.conftest import DEFINITIONS

pytestmark = pytest.mark.slow
POSTGRES = make_url(os.environ.get("DPR_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"))
USERS, ADMIN = ("alice", "bob", "carol"), "root"
TOKEN_USERS = ("carol",)  # who signs in with an OpenID Connect token rather than an API key


def pg(database: str | None = None, **options: object) -> psycopg.Connection:
    url = POSTGRES if database is None else POSTGRES.set(database=database)
    return psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database, **options)


@pytest.fixture(
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "memory":
        yield "memory://"
    elif request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'dpr.db'}"
    else:
        try:
            admin = pg(autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as error:
            pytest.skip(f"PostgreSQL is unreachable: {error}")
        name = f"dpr_test_{secrets.token_hex(6)}"
        with admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        yield POSTGRES.set(database=name).render_as_string(hide_password=False)
        with pg(autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="module")
def issuer() -> Iterator[OidcIssuer]:
    with running_issuer(SigningKey("rsa-1")) as running:
        yield running


@pytest.fixture
def container(storage_url: str, issuer: OidcIssuer) -> Container:
    base = ephemeral(Settings(processes=ProcessSettings(definitions=DEFINITIONS)))
    auth = AuthSettings(methods=["api_key", "oidc"], oidc=OidcSettings(issuer=issuer.url, audience=AUDIENCE))
    return build_container(msgspec.structs.replace(base, storage=StorageSettings(url=storage_url), auth=auth))


def stored_text(storage_url: str) -> str:
    """Everything the database holds, as text (to search for secrets)."""
    if storage_url.startswith("sqlite"):
        return Path(make_url(storage_url).database or "").read_bytes().decode(errors="replace")
    if storage_url.startswith("memory"):
        return ""
    with pg(make_url(storage_url).database) as conn:
        rows = [
            conn.execute(f"SELECT row_to_json(t)::text FROM {t} t").fetchall() for t in ("jobs", "job_logs", "api_keys")
        ]
    return "\n".join(r[0] for table in rows for r in table)


def test_no_principal_ever_sees_or_affects_anothers_job_and_admins_see_all(
    container: Container, storage_url: str, issuer: OidcIssuer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with TestClient(create_app(container=container), base_url="http://dpr.test") as client:
        keys: dict[str, str] = {}

        def key_of(name: str, *roles: str) -> str:
            keys[name] = client.blocking_portal.call(container.keys().create, name, frozenset(roles))[1]
            return keys[name]

        def token_of(name: str) -> str:
            keys[name] = issuer.token(issuer.published[0], sub=name, preferred_username=name)
            return keys[name]

        admin_key = key_of(ADMIN, "admin")

        class Isolation(RuleBasedStateMachine):
            """The model: which job each user owns. Every example has users of its own (the
            jobs of earlier examples stay in the store: only the admin sees them)."""

            jobs = Bundle("jobs")

            def __init__(self) -> None:
                super().__init__()
                self.owner: dict[str, str] = {}
                run = secrets.token_hex(4)
                self.keys = {who: (token_of if who in TOKEN_USERS else key_of)(f"{who}-{run}") for who in USERS} | {
                    ADMIN: admin_key
                }

            def key(self, who: str) -> dict[str, str]:
                if who in TOKEN_USERS:
                    return {"Authorization": f"Bearer {self.keys[who]}"}
                return {"x-api-key": self.keys[who]}

            def get(self, who: str, path: str, **kwargs: object):
                return client.get(path, headers=self.key(who), **kwargs)

            @rule(target=jobs, who=st.sampled_from(USERS), process=st.sampled_from(["echo", "mockup"]))
            def submit(self, who: str, process: str) -> str:
                body = {"inputs": {"echo": "hi"}} if process == "echo" else {"inputs": {"duration": 0.05}}
                headers = {**self.key(who), "Prefer": "respond-async"}
                response = client.post(f"/processes/{process}/execution", json=body, headers=headers)
                assert response.status_code == 201, response.text
                job_id = response.json()["jobID"]
                self.owner[job_id] = who
                return job_id

            @rule(who=st.sampled_from((*USERS, ADMIN)), job_id=jobs, what=st.sampled_from(["", "/results", "/logs"]))
            def read(self, who: str, job_id: str, what: str) -> None:
                response = self.get(who, f"/jobs/{job_id}{what}")
                if who == ADMIN or self.owner.get(job_id) == who:
                    assert response.status_code in (200, 404, 500), response.text
                    if job_id in self.owner and response.status_code == 404:
                        assert not response.json()["type"].endswith("/no-such-job")
                else:
                    assert response.status_code == 404 and response.json()["type"].endswith("/no-such-job")

            @rule(who=st.sampled_from((*USERS, ADMIN)), job_id=jobs)
            def dismiss(self, who: str, job_id: str) -> None:
                response = client.delete(f"/jobs/{job_id}", headers=self.key(who))
                mine = who == ADMIN or self.owner.get(job_id) == who
                if not mine or job_id not in self.owner:
                    assert response.status_code == 404, response.text
                    return
                assert response.status_code == 200, response.text
                if response.json()["message"].startswith("Removed"):
                    del self.owner[job_id]

            @rule(who=st.sampled_from(USERS), job_id=jobs)
            def read_through_the_original_routes(self, who: str, job_id: str) -> None:
                response = self.get(who, f"/dpr/jobs/{job_id}")
                assert response.status_code == (200 if self.owner.get(job_id) == who else 404)

            @invariant()
            def each_user_lists_exactly_their_live_jobs(self) -> None:
                for who in USERS:
                    listed = {j["jobID"] for j in self.get(who, "/jobs", params={"limit": 1000}).json()["jobs"]}
                    assert listed == {j for j, o in self.owner.items() if o == who}
                    assert all(j["jobID"] in listed for j in self.get(who, "/dpr/jobs").json()["jobs"])

            @invariant()
            def the_admin_lists_every_live_job(self) -> None:
                listed = {j["jobID"] for j in self.get(ADMIN, "/jobs", params={"limit": 1000}).json()["jobs"]}
                assert set(self.owner) <= listed

        run_state_machine_as_test(
            Isolation,
            settings=settings(
                max_examples=8,
                stateful_step_count=12,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    texts = [stored_text(storage_url), caplog.text]
    # a key, or its random part; a token, or its signature
    secret_parts = [part for key in keys.values() for part in (key, key[4:], key.rsplit(".", 1)[-1])]
    assert not any(part in text for part in secret_parts for text in texts)
