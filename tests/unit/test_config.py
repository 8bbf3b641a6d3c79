"""Configuration: YAML with variables, DPR_* overrides, and errors that say where."""

from __future__ import annotations

import pytest

from dpr.adapters.catalog import CatalogError, build_catalog
from dpr.adapters.config import ConfigError, load_settings, redact_url, redacted
from dpr.adapters.settings import ProcessDefinition, ProcessSettings, ephemeral


def write(tmp_path, text: str):
    path = tmp_path / "dpr.yaml"
    path.write_text(text)
    return path


def test_the_shipped_configuration_loads_with_an_empty_environment():
    settings = load_settings("config/dpr.yaml", env={})
    assert settings.storage.url == "sqlite+aiosqlite:///data/dpr.sqlite" and settings.executor.kind == "local"
    assert [d.id for d in settings.processes.definitions] == ["echo", "mockup"]


def test_the_defaults_are_the_embedded_set_up_and_ephemeral_keeps_all_in_process():
    settings = load_settings(None, env={})
    assert (settings.storage.url, settings.executor.kind) == ("sqlite+aiosqlite:///data/dpr.sqlite", "local")
    assert (ephemeral(settings).storage.url, ephemeral(settings).executor.kind) == ("memory://", "fake")


def test_variables_and_defaults_are_substituted_with_their_yaml_type(tmp_path):
    path = write(tmp_path, "server:\n  port: ${PORT:-8100}\n  host: ${HOST}\n")
    settings = load_settings(path, env={"HOST": "0.0.0.0"})
    assert settings.server.port == 8100 and settings.server.host == "0.0.0.0"


def test_a_missing_variable_names_file_key_and_variable(tmp_path):
    path = write(tmp_path, "storage:\n  url: ${DB_URL}\n")
    with pytest.raises(
        ConfigError,
        match=r"dpr\.yaml: key 'storage\.url' uses \$\{DB_URL\} but the environment variable DB_URL is not set",
    ):
        load_settings(path, env={})


def test_an_unknown_key_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown key 'executor\.kinds'"):
        load_settings(write(tmp_path, "executor:\n  kinds: fake\n"), env={})


def test_a_wrong_value_type_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'server\.port'"):
        load_settings(write(tmp_path, "server:\n  port: eighty\n"), env={})


def test_environment_variables_override_the_file(tmp_path):
    path = write(tmp_path, "storage:\n  url: memory://\n")
    env = {
        "DPR_STORAGE_URL": "sqlite+aiosqlite:///x.db",
        "DPR_SERVER_PORT": "9000",
        "DPR_ENABLED_PROCESSORS": "echo, mockup",
    }
    settings = load_settings(path, env=env)
    assert settings.storage.url == "sqlite+aiosqlite:///x.db" and settings.server.port == 9000
    assert settings.processes.enabled == ["echo", "mockup"]


def test_an_unreadable_or_malformed_file_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_settings(tmp_path / "missing.yaml", env={})
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(write(tmp_path, "server: [\n"), env={})


def test_passwords_are_redacted_from_printed_settings():
    assert redact_url("postgresql+psycopg://dpr:hunter2@db:5432/dpr") == "postgresql+psycopg://dpr:***@db:5432/dpr"
    settings = load_settings(None, env={"DPR_STORAGE_URL": "postgresql+psycopg://dpr:hunter2@db/dpr"})
    assert "hunter2" not in str(redacted(settings))


def test_the_enabled_list_narrows_the_catalog():
    catalog, refs = build_catalog(ProcessSettings(enabled=["mockup"]))
    assert catalog.ids() == ["mockup"] and list(refs) == ["mockup"]


def test_a_processor_that_cannot_be_loaded_names_its_process():
    with pytest.raises(CatalogError, match="process 'broken'.*cannot be loaded"):
        build_catalog(ProcessSettings(definitions=[ProcessDefinition(id="broken", processor="no.such.module:Thing")]))


def test_the_configuration_chooses_each_process_s_execution_modes(tmp_path):
    path = tmp_path / "dpr.yaml"
    path.write_text(
        "processes:\n  definitions:\n"
        "    - {id: echo, processor: 'dpr.adapters.processors.echo:EchoProcessor', job_control: [async-execute]}\n"
    )
    catalog, _ = build_catalog(load_settings(path, env={}).processes)
    assert catalog.get("echo").jobControlOptions == ["async-execute"]
    path.write_text(path.read_text().replace("[async-execute]", "[dismiss]"))
    with pytest.raises(CatalogError, match="job_control"):
        build_catalog(load_settings(path, env={}).processes)
    path.write_text(path.read_text().replace("[dismiss]", "[sideways]"))
    with pytest.raises(ConfigError, match="job_control"):
        load_settings(path, env={})


@pytest.mark.parametrize("config", ["config/dpr.yaml", "config/dpr-processors.yaml", None])
def test_long_running_processes_are_async_only_and_echo_offers_both(config):
    catalog, _ = build_catalog(load_settings(config, env={}).processes)
    for process in catalog.all():
        if process.id == "echo":
            assert {"sync-execute", "async-execute"} <= set(process.jobControlOptions)
        else:
            assert "sync-execute" not in process.jobControlOptions, process.id


def test_the_default_response_mode_is_raw_and_the_environment_can_make_it_document():
    assert load_settings(None, env={}).ogc.response_default == "raw"
    assert load_settings(None, env={"DPR_OGC_RESPONSE_DEFAULT": "document"}).ogc.response_default == "document"
    with pytest.raises(ConfigError):
        load_settings(None, env={"DPR_OGC_RESPONSE_DEFAULT": "sideways"})


def test_authentication_is_off_by_default_and_its_methods_come_from_a_comma_separated_variable():
    assert load_settings(None, env={}).auth.anonymous
    settings = load_settings(None, env={"DPR_AUTH_METHODS": "api_key, oidc", "DPR_AUTH_API_KEY_HEADER": "x-key"})
    assert settings.auth.methods == ["api_key", "oidc"] and settings.auth.api_key_header == "x-key"
    assert not settings.auth.anonymous


def test_an_unknown_authentication_method_is_named(tmp_path):
    with pytest.raises(ConfigError, match=r"key 'auth\.methods\[0\]'"):
        load_settings(write(tmp_path, "auth:\n  methods: [password]\n"), env={})


def test_the_oidc_settings_come_from_the_file_and_from_dpr_auth_oidc_variables(tmp_path):
    path = write(
        tmp_path, "auth:\n  methods: [oidc]\n  oidc:\n    issuer: https://sso.example/realms/rs\n    audience: dpr\n"
    )
    env = {"DPR_AUTH_OIDC_AUDIENCE": "rs-dpr", "DPR_AUTH_OIDC_ALGORITHMS": "RS256, ES256", "DPR_AUTH_OIDC_LEEWAY": "5"}
    oidc = load_settings(path, env=env).auth.oidc
    assert (oidc.issuer, oidc.audience, oidc.algorithms, oidc.leeway) == (
        "https://sso.example/realms/rs",
        "rs-dpr",
        ["RS256", "ES256"],
        5.0,
    )
    assert oidc.roles_claim == "realm_access.roles"
    with pytest.raises(ConfigError, match=r"unknown key 'auth\.oidc\.secret'"):
        load_settings(write(tmp_path, "auth:\n  oidc:\n    secret: x\n"), env={})
