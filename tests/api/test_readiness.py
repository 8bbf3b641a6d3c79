"""Readiness (``/health/ready``) beside liveness (``/health``), and new jobs refused while stopping."""

from __future__ import annotations

import pytest

from dpr.entrypoints.container import Container

pytestmark = pytest.mark.api

ASYNC = {"Prefer": "respond-async"}


def test_a_started_instance_is_ready_and_says_so_without_credentials(client):
    response = client.get("/health/ready")
    assert response.status_code == 200 and response.json() == {"status": "ready", "reasons": []}


def test_a_stopping_instance_is_alive_but_not_ready_and_refuses_new_jobs_with_retry_after(client, container: Container):
    accepted = client.post("/processes/echo/execution", json={"inputs": {"echo": "before"}}, headers=ASYNC)
    assert accepted.status_code == 201
    client.blocking_portal.call(container.lifecycle().stop)

    ready = client.get("/health/ready")
    assert ready.status_code == 503 and ready.json()["status"] == "not ready"
    assert any("stopping" in reason for reason in ready.json()["reasons"])
    assert client.get("/health").status_code == 200, "liveness is unchanged"
    for path, body in (
        ("/processes/echo/execution", {"inputs": {"echo": "after"}}),
        ("/dpr/processes/echo/execution", {"inputs": {"echo": "after"}}),
    ):
        refused = client.post(path, json=body, headers=ASYNC)
        assert refused.status_code == 503, path
        assert refused.headers["Retry-After"] == "5" and "stopping" in refused.json()["detail"]
        assert refused.headers["content-type"].startswith("application/problem+json") or refused.json()["type"]
    job = client.get(accepted.headers["Location"]).json()
    assert job["jobID"], "reading goes on while stopping"


def test_the_api_definition_documents_readiness_as_public_with_its_503_document(client):
    api = client.get("/api").json()
    operation = api["paths"]["/health/ready"]["get"]
    assert set(operation["responses"]) >= {"200", "503"}
    assert operation["responses"]["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/Readiness")
    assert set(api["components"]["schemas"]["Readiness"]["properties"]) == {"status", "reasons"}
