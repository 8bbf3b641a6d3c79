"""Every route of the OGC API, its happy path and its errors, through the test client."""

from __future__ import annotations

import gc

import pytest
from litestar.testing import TestClient

from dpr.adapters.settings import ProcessSettings, ServerSettings, Settings, ephemeral
from dpr.entrypoints.http.app import create_app
from tests import waiting
from tests.api.conftest import wait_for
from tests.ogc_schemas import check
from tests.unit.conftest import DEFINITIONS

ASYNC = {"Prefer": "respond-async"}


def assert_exception(response, status: int, type_suffix: str):
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    check(body, "exception.yaml")
    assert body["type"].endswith(type_suffix) and body["status"] == status and body["detail"]
    assert "Traceback" not in response.text
    return body


@pytest.mark.parametrize("accept", [None, "*/*", "application/json"])
def test_landing_page_is_json_without_accept_or_with_any(client, accept):
    response = client.get("/", headers={"Accept": accept} if accept else {})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    check(response.json(), "landingPage.yaml")
    assert all(link["href"].startswith("http://dpr.test/") for link in response.json()["links"])


def test_conformance_declares_the_classes_implemented(client):
    body = client.get("/conformance").json()
    check(body, "confClasses.yaml")
    assert "http://www.opengis.net/spec/ogcapi-processes-1/1.0/conf/core" in body["conformsTo"]


def test_the_api_definition_is_served_as_openapi_json(client):
    response = client.get("/api")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/vnd.oai.openapi+json;version=3.0"
    paths = response.json()["paths"]
    assert {
        "/processes",
        "/processes/{process_id}/execution",
        "/jobs",
        "/jobs/{job_id}",
        "/jobs/{job_id}/results",
    } <= set(paths)
    assert client.get("/api", headers={"Accept": "text/html"}, follow_redirects=False).status_code in (302, 303, 307)


def test_processes_list_and_describe(client):
    body = client.get("/processes").json()
    check(body, "processList.yaml")
    assert [p["id"] for p in body["processes"]][:2] == ["echo", "mockup"]
    echo = client.get("/processes/echo").json()
    check(echo, "process.yaml")
    assert echo["inputs"]["echo"]["schema"] == {"type": "string"}


def test_process_list_honours_limit_with_next_links(client):
    body = client.get("/processes", params={"limit": 1}).json()
    assert len(body["processes"]) == 1
    next_link = [link["href"] for link in body["links"] if link["rel"] == "next"][0]
    assert client.get(next_link).json()["processes"][0]["id"] == "mockup"
    assert_exception(client.get("/processes", params={"limit": 0}), 400, "invalid-parameter-value")


def test_unknown_process_and_job_are_404_with_the_standard_types(client):
    assert_exception(client.get("/processes/nope"), 404, "/no-such-process")
    assert_exception(client.post("/processes/nope/execution", json={}), 404, "/no-such-process")
    assert_exception(client.get("/jobs/nope"), 404, "/no-such-job")
    assert_exception(client.get("/jobs/nope/results"), 404, "/no-such-job")
    assert_exception(client.delete("/jobs/nope"), 404, "/no-such-job")


def test_sync_execution_answers_200_with_the_results(client):
    response = client.post("/processes/echo/execution", json={"inputs": {"echo": "hi"}, "response": "document"})
    assert response.status_code == 200
    check(response.json(), "results.yaml")
    assert response.json()["echo"] == "hi"
    assert "rel=monitor" in response.headers["link"]


def test_sync_raw_execution_of_one_selected_output_is_the_value_itself(client):
    body = {"inputs": {"echo": "hi"}, "outputs": {"echo": {}}, "response": "raw"}
    response = client.post("/processes/echo/execution", json=body)
    assert response.status_code == 200 and response.text == "hi"
    assert response.headers["content-type"].startswith("text/plain")


def test_async_execution_answers_201_with_an_absolute_location(client):
    response = client.post("/processes/mockup/execution", json={"inputs": {"duration": 0.2}}, headers=ASYNC)
    assert response.status_code == 201 and response.headers["preference-applied"] == "respond-async"
    location = response.headers["location"]
    assert location.startswith("http://dpr.test/jobs/")
    check(response.json(), "statusInfo.yaml")
    done = wait_for(client, location, "successful")
    check(done, "statusInfo.yaml")
    assert any(link["rel"].endswith("/results") for link in done["links"])
    results = client.get(location + "/results")
    assert results.status_code == 200 and results.json()[0]["type"] == "S1SEWRAW"


def test_results_of_a_running_job_are_not_ready(client):
    location = client.post("/processes/mockup/execution", json={"inputs": {"duration": 5}}, headers=ASYNC).headers[
        "location"
    ]
    assert_exception(client.get(location + "/results"), 404, "/result-not-ready")
    status = client.get(location).json()
    assert not any(link["rel"].endswith("/results") for link in status["links"])
    client.delete(location)


def test_results_of_a_failed_job_name_the_failure(client):
    location = client.post(
        "/processes/mockup/execution", json={"inputs": {"duration": 0.1, "fail": True}}, headers=ASYNC
    ).headers["location"]
    wait_for(client, location, "failed")
    body = assert_exception(client.get(location + "/results"), 500, "job-results-failed")
    assert "failed on request" in body["detail"]


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (b"{not json", "not valid JSON"),
        (b'{"inputs": {"echo": 3}}', "input 'echo'"),
        (b'{"inputs": {}}', "input 'echo': is required"),
        (b'{"inputs": {"echo": "x", "bogus": 1}}', "input 'bogus'"),
        (b'{"inputs": "nope"}', "invalid"),
        (b"[1, 2]", "invalid"),
    ],
)
def test_bad_execute_requests_are_400_naming_what_is_wrong(client, body, detail):
    response = client.post("/processes/echo/execution", content=body, headers={"Content-Type": "application/json"})
    assert detail in assert_exception(response, 400, "invalid-input")["detail"]


def test_dismissing_a_running_job_answers_dismissed_and_it_stays_so(client):
    location = client.post("/processes/mockup/execution", json={"inputs": {"duration": 30}}, headers=ASYNC).headers[
        "location"
    ]
    wait_for(client, location, "running")
    response = client.delete(location)
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    check(response.json(), "statusInfo.yaml")
    assert client.get(location).json()["status"] == "dismissed"


def test_dismissing_a_finished_job_keeps_it_and_purging_it_removes_it(client):
    response = client.post("/processes/echo/execution", json={"inputs": {"echo": "x"}}, headers=ASYNC)
    location = response.headers["location"]
    wait_for(client, location, "successful")
    assert client.delete(location).json()["status"] == "successful", "DELETE alone never removes a record"
    assert client.get(location).json()["status"] == "successful"
    assert client.delete(location, params={"purge": "true"}).json()["status"] == "dismissed"
    assert_exception(client.get(location), 404, "/no-such-job")
    assert_exception(client.delete(location), 404, "/no-such-job")


def test_a_retried_dismissal_answers_the_same_and_keeps_the_record(client):
    response = client.post("/processes/mockup/execution", json={"inputs": {"duration": 30}}, headers=ASYNC)
    location = response.headers["location"]
    first, again = client.delete(location), client.delete(location)
    assert first.status_code == again.status_code == 200
    assert first.json()["status"] == again.json()["status"] == "dismissed"
    assert client.get(location).json()["status"] == "dismissed"


def test_job_list_filters_pages_and_validates(client):
    for text in ("a", "b", "c"):
        client.post("/processes/echo/execution", json={"inputs": {"echo": text}})
    location = client.post("/processes/mockup/execution", json={"inputs": {"duration": 30}}, headers=ASYNC).headers[
        "location"
    ]
    body = client.get("/jobs", params={"processID": "echo", "status": "successful", "limit": 2}).json()
    check(body, "jobList.yaml")
    assert len(body["jobs"]) == 2 and all(j["processID"] == "echo" for j in body["jobs"])
    rest = client.get([link["href"] for link in body["links"] if link["rel"] == "next"][0]).json()
    assert len(rest["jobs"]) == 1 and not any(link["rel"] == "next" for link in rest["links"])
    assert [j["jobID"] for j in client.get("/jobs", params={"status": "accepted,running"}).json()["jobs"]] == [
        location.rsplit("/", 1)[1]
    ]
    assert_exception(client.get("/jobs", params={"status": "bogus"}), 400, "invalid-parameter-value")
    assert_exception(client.get("/jobs", params={"limit": "x"}), 400, "invalid-parameter-value")
    assert_exception(client.get("/jobs", params={"datetime": "yesterday"}), 400, "invalid-parameter-value")
    client.delete(location)


def test_job_logs_page_through_the_log(client):
    location = client.post("/processes/mockup/execution", json={"inputs": {"duration": 0.1}}, headers=ASYNC).headers[
        "location"
    ]
    wait_for(client, location, "successful")
    first = client.get(location + "/logs", params={"limit": 4}).json()
    assert [line["seq"] for line in first["logs"]] == [0, 1, 2, 3]
    rest = client.get([link["href"] for link in first["links"] if link["rel"] == "next"][0]).json()
    assert rest["logs"][0]["seq"] == 4 and rest["status"] == "successful"


def test_unknown_routes_and_methods_are_json_errors(client):
    assert client.get("/nowhere").json()["status"] == 404
    response = client.put("/processes/echo")
    assert response.status_code == 405 and response.json()["status"] == 405


def test_health_reports_ok(client):
    assert client.get("/health").json()["status"] == "ok"


def test_cors_exposes_the_location_header_to_a_configured_origin():
    settings = ephemeral(
        Settings(
            processes=ProcessSettings(definitions=DEFINITIONS),
            server=ServerSettings(cors_origins=["http://app.example"]),
        )
    )
    with TestClient(create_app(settings), base_url="http://dpr.test") as client:
        _cors_exposes_location(client)


def _cors_exposes_location(client):
    response = client.options(
        "/processes", headers={"Origin": "http://app.example", "Access-Control-Request-Method": "POST"}
    )
    assert response.status_code in (200, 204)
    simple = client.get("/processes", headers={"Origin": "http://app.example"})
    assert "location" in simple.headers["access-control-expose-headers"].lower()


def test_a_serving_app_moves_its_start_up_objects_out_of_the_collectors_reach() -> None:
    settings = ephemeral(Settings(processes=ProcessSettings(definitions=DEFINITIONS)))
    gc.unfreeze()
    try:
        with TestClient(create_app(settings, serving=True)) as served:
            # modules, routes, schemas: scanned never again (a second after start-up)
            waiting.wait_for(lambda: gc.get_freeze_count() > 10_000, what="the start-up objects frozen")
            assert served.get("/conformance").status_code == 200
    finally:
        gc.unfreeze()  # this process builds many apps: let the collector have them back
    with TestClient(create_app(settings)):
        assert gc.get_freeze_count() == 0
