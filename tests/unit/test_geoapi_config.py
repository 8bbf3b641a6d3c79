"""rs-dpr-service's configuration (geoapi.yaml, POSTGRES_*, DPR_ENABLED_PROCESSORS) read by dpr."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from dpr.adapters.config import ConfigError
from dpr.adapters.geoapi_config import load_config
from dpr.entrypoints.cli.serve import resolve_settings

ORIGINAL = """\
server:
  url: http://localhost:8000
  bind:
    host: 0.0.0.0
    port: 8000
  admin: False
logging:
  level: DEBUG
metadata:
  identification:
    title: DPR service
    description: A service to start the dpr processor.
manager:
  name: PostgreSQL
  connection:
    host: ${POSTGRES_HOST}
    port: ${POSTGRES_PORT}
    database: ${POSTGRES_DB}
    user: ${POSTGRES_USER}
    password: ${POSTGRES_PASSWORD}
  output_dir: /tmp
resources:
  conv_safe_zarr: {type: process, processor: {name: conv_safe_zarr}}
  mockup: {type: process, processor: {name: mockup}}
  s1_l0: {type: process, processor: {name: s1_l0}}
  dpr-echo: {type: process, processor: {name: echo}}
openapi:
  path: # not used
"""
POSTGRES = {
    "POSTGRES_HOST": "db",
    "POSTGRES_PORT": "6543",
    "POSTGRES_DB": "jobs",
    "POSTGRES_USER": "svc",
    "POSTGRES_PASSWORD": "p@ss:w/rd#1",
}


@pytest.fixture
def geoapi(tmp_path: Path) -> Path:
    path = tmp_path / "geoapi.yaml"
    path.write_text(ORIGINAL)
    return path


def test_an_original_geoapi_yaml_becomes_dpr_settings(geoapi):
    settings = load_config(geoapi, POSTGRES)
    assert (settings.server.host, settings.server.port, settings.server.title) == ("0.0.0.0", 8000, "DPR service")
    assert settings.logging.level == "DEBUG"
    url = make_url(settings.storage.url)
    assert (url.drivername, url.host, url.port, url.database, url.username, url.password) == (
        "postgresql+psycopg",
        "db",
        6543,
        "jobs",
        "svc",
        "p@ss:w/rd#1",
    )
    # only the resources whose processor dpr has; under the resource's id
    assert [(d.id, d.processor) for d in settings.processes.definitions] == [
        ("mockup", "dpr.adapters.processors.mockup:MockupProcessor"),
        ("dpr-echo", "dpr.adapters.processors.echo:EchoProcessor"),
    ]
    assert settings.processes.enabled == ["mockup", "dpr-echo"]


def test_enabled_processors_are_chosen_by_processor_name(geoapi):
    settings = load_config(geoapi, {**POSTGRES, "DPR_ENABLED_PROCESSORS": "echo, s1_l0"})
    assert settings.processes.enabled == ["dpr-echo"]
    nothing = load_config(geoapi, {**POSTGRES, "DPR_ENABLED_PROCESSORS": "s1_l0"})
    assert nothing.processes.enabled == [] and nothing.processes.definitions == []  # not the built-in ones


def test_dpr_variables_still_override_the_geoapi_file(geoapi):
    settings = load_config(
        geoapi, {**POSTGRES, "DPR_STORAGE_URL": "memory://", "DPR_SERVER_PORT": "9000", "DPR_EXECUTOR_KIND": "gateway"}
    )
    assert (settings.storage.url, settings.server.port, settings.executor.kind) == ("memory://", 9000, "gateway")


def test_a_missing_variable_names_the_key_and_the_variable(geoapi):
    with pytest.raises(ConfigError, match=r"manager\.connection\.host.*POSTGRES_HOST"):
        load_config(geoapi, {})


def test_without_a_configured_database_the_original_postgres_variables_name_it(tmp_path):
    assert make_url(load_config(None, POSTGRES).storage.url).host == "db"
    assert load_config(None, {}).storage.url == "sqlite+aiosqlite:///data/dpr.sqlite"
    assert (
        load_config(None, {**POSTGRES, "DPR_STORAGE_URL": "sqlite+aiosqlite:///x.db"}).storage.url
        == "sqlite+aiosqlite:///x.db"
    )
    named = tmp_path / "dpr.yaml"
    named.write_text("storage:\n  url: memory://\n")
    assert load_config(named, POSTGRES).storage.url == "memory://"


def test_dpr_serve_recognises_a_geoapi_file(geoapi, monkeypatch):
    for name, value in POSTGRES.items():
        monkeypatch.setenv(name, value)
    settings = resolve_settings(str(geoapi), port=8123, ephemeral=True)
    assert settings.server.port == 8123 and settings.storage.url == "memory://"
    assert [d.id for d in settings.processes.definitions] == ["mockup", "dpr-echo"]
