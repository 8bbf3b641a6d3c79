"""``/dpr``: rs-dpr-service's API on dpr's jobs, every route and error, through the test client."""

from __future__ import annotations

import ast
import logging
from collections.abc import Iterator

import msgspec
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.settings import (
    ExecutorSettings,
    ProcessDefinition,
    ProcessSettings,
    Settings,
    StorageSettings,
)
from dpr.domain.run import WorkOrder
from dpr.entrypoints.container import Container, build_container
from dpr.entrypoints.http.app import create_app
from tests import waiting
from tests.api.conftest import wait_for
from tests.eopf_standin import TASK_TABLE
from tests.ogc_schemas import check
from tests.unit.conftest import DEFINITIONS

TOKEN = "jhub-token-6f1c9e2b"  # a JupyterHub token: must reach the executor and nothing else
STATUS_TYPE = "https://developer.mozilla.org/en/docs/Web/HTTP/Reference/Status/"
EOPF = [
    ProcessDefinition(id="s1_l0", processor="tests.eopf_standin:EopfStandIn"),
    ProcessDefinition(id="conv_safe_zarr", processor="tests.eopf_standin:ConversionStandIn"),
]
BODY = {"s3_config_dir": "s3://rs-bucket/config/run-1", "payload_subpath": "payload.yaml", "s3_report_dir": None}


class RecordingExecutor(FakeExecutor):
    """Runs jobs in threads like the fake executor, and keeps the work orders it was given."""

    def __init__(self) -> None:
        super().__init__(max_workers=4)
        self.orders: list[WorkOrder] = []

    async def submit(self, order: WorkOrder) -> str:
        self.orders.append(order)
        return await super().submit(order)


def serve(kind: str = "fake", container: Container | None = None) -> tuple[TestClient, RecordingExecutor]:
    settings = Settings(
        processes=ProcessSettings(definitions=[*DEFINITIONS, *EOPF]),
        storage=StorageSettings(url="memory://"),
        executor=ExecutorSettings(kind=kind),  # type: ignore[arg-type]
    )
    container, executor = container or build_container(settings), RecordingExecutor()
    container.executor.override(providers.Object(executor))
    return TestClient(create_app(container=container), base_url="http://dpr.test"), executor


@pytest.fixture
def dpr() -> Iterator[TestClient]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    client, _ = serve()
    with client:
        yield client


def assert_problem(response, status: int, *words: str) -> dict:
    """The original's RFC 7807 shape: a status URI, the status and a detail."""
    assert response.status_code == status and response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body == {"type": f"{STATUS_TYPE}{status}", "status": status, "detail": body["detail"]}
    assert all(word in body["detail"] for word in words), body["detail"]
    return body


def run(client: TestClient, process: str = "s1_l0", body: dict | None = None) -> dict:
    response = client.post(f"/dpr/processes/{process}/execution", json=BODY if body is None else body)
    assert response.status_code == 201, response.text
    return response.json()


def events(client: TestClient, url: str, **headers: str) -> list[dict[str, str]]:
    """Every server-sent event of a stream (which must end by itself), fields by name."""
    out, current = [], {}
    with client.stream("GET", url, headers=headers) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if not line:
                if current:
                    out.append(current)
                current = {}
                continue
            field, _, value = line.partition(": ")
            current[field] = f"{current[field]}\n{value}" if field == "data" and field in current else value
    return out


def test_ping_and_health_answer_like_the_original(dpr):
    ping = dpr.get("/_mgmt/ping")
    assert ping.status_code == 200 and ping.json() == "Healthy"
    assert dpr.get("/health").json()["status"] == "ok"


def test_processes_are_listed_with_their_ids_and_a_self_link(dpr):
    body = dpr.get("/dpr/processes").json()
    check(body, "processList.yaml")
    assert {"echo", "mockup", "s1_l0", "conv_safe_zarr"} <= {p["id"] for p in body["processes"]}
    assert all(p["version"] for p in body["processes"])
    assert body["links"][0] == {
        "href": "http://dpr.test/dpr/processes",
        "rel": "self",
        "type": "application/json",
        "title": "List of processes",
    }


def test_a_process_with_a_task_table_is_described_by_it_without_credentials_nor_side_effect(dpr):
    before = dpr.get("/dpr/jobs").json()["jobs"]
    assert dpr.get("/dpr/processes/s1_l0").json() == TASK_TABLE
    assert dpr.get("/dpr/jobs").json()["jobs"] == before == []


def test_a_process_without_a_task_table_is_described_by_its_ogc_description(dpr):
    body = dpr.get("/dpr/processes/mockup").json()
    check(body, "process.yaml")
    assert body["id"] == "mockup" and "duration" in body["inputs"]


def test_an_unknown_process_is_a_404_in_the_original_shape(dpr):
    assert_problem(dpr.get("/dpr/processes/nope"), 404, "nope")
    assert_problem(dpr.post("/dpr/processes/nope/execution", json=BODY), 404, "nope")


def test_an_execution_answers_201_with_the_job_and_maps_the_fields_to_inputs(dpr):
    response = dpr.post(
        "/dpr/processes/s1_l0/execution", json={**BODY, "experimental_config": {"local_cluster": {"enabled": True}}}
    )
    assert response.status_code == 201
    status = response.json()
    check(status, "statusInfo.yaml")
    assert status["processID"] == "s1_l0" and status["status"] in ("accepted", "running", "successful")
    assert response.headers["location"] == f"http://dpr.test/dpr/jobs/{status['jobID']}"
    wait_for(dpr, f"/dpr/jobs/{status['jobID']}", "successful")
    lines = [entry["line"] for entry in dpr.get(f"/jobs/{status['jobID']}/logs").json()["logs"]]
    assert "input s3_config_dir = 's3://rs-bucket/config/run-1'" in lines
    assert "input experimental_config = {'local_cluster': {'enabled': True}}" in lines
    assert not any(line.startswith("input s3_report_dir") for line in lines)  # null is no input


def test_a_successful_jobs_message_is_its_outputs_as_a_python_literal(dpr):
    job_id = run(dpr)["jobID"]
    status = wait_for(dpr, f"/dpr/jobs/{job_id}", "successful")
    check(status, "statusInfo.yaml")
    expected = {"products": [{"path": "s3://rs-bucket/config/run-1/output/S01SEWRAW.zarr", "payload": "payload.yaml"}]}
    assert ast.literal_eval(status["message"]) == expected
    assert dpr.get(f"/dpr/jobs/{job_id}/results").json() == {"products": expected["products"]}
    assert dpr.get(f"/jobs/{job_id}").json()["message"] == "Finished successfully."  # OGC's own message


def test_the_token_reaches_the_executor_and_no_response_record_or_log(caplog):
    caplog.set_level(logging.DEBUG)
    container = build_container(
        Settings(processes=ProcessSettings(definitions=[*DEFINITIONS, *EOPF]), storage=StorageSettings(url="memory://"))
    )
    client, executor = serve(container=container)
    with client:
        body = {**BODY, "jupyter_token": TOKEN, "cluster_label": "dask-l0", "cluster_instance": "dask-gateway.17e1"}
        answers = [client.post("/dpr/processes/s1_l0/execution", json=body)]
        job_id = answers[0].json()["jobID"]
        answers.append(client.get(f"/dpr/jobs/{job_id}"))
        wait_for(client, f"/dpr/jobs/{job_id}", "successful")
        answers += [
            client.get(u)
            for u in (
                f"/dpr/jobs/{job_id}",
                "/dpr/jobs",
                f"/jobs/{job_id}",
                f"/dpr/jobs/{job_id}/results",
                f"/jobs/{job_id}/logs",
            )
        ]
        record = client.blocking_portal.call(container.repository().get, job_id)
        lines = client.blocking_portal.call(container.log_store().read, job_id)
    placement = executor.orders[0].placement
    assert placement is not None and placement.credentials == {"jupyter_token": TOKEN}
    assert (placement.cluster_label, placement.cluster_instance) == ("dask-l0", "dask-gateway.17e1")
    assert TOKEN not in repr(executor.orders[0]) and TOKEN not in repr(placement)
    assert all(TOKEN not in a.text for a in answers) and len(lines) > 2
    assert TOKEN not in msgspec.json.encode(record).decode() and "jupyter_token" not in record.request.inputs
    assert all(TOKEN not in line.line for line in lines)
    assert TOKEN not in caplog.text


def test_cluster_fields_are_optional_unless_jobs_run_on_a_gateway():
    client, executor = serve(kind="gateway")
    with client:
        assert_problem(client.post("/dpr/processes/s1_l0/execution", json=BODY), 400, "jupyter_token", "cluster_label")
        assert_problem(
            client.post("/dpr/processes/s1_l0/execution", json={**BODY, "cluster_label": "dask-l0"}),
            400,
            "jupyter_token",
        )
        run(client, body={**BODY, "jupyter_token": TOKEN, "cluster_label": "dask-l0"})
    assert [o.placement.cluster_instance for o in executor.orders if o.placement] == [None]


def test_without_cluster_fields_a_job_has_no_placement():
    client, executor = serve()
    with client:
        run(client)
    assert executor.orders[0].placement is None


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (b"", ["required"]),
        (b"{not json", ["not valid JSON"]),
        (b'["s3://x"]', ["JSON object"]),
        (
            b'{"jupyter_token": 12345678, "s3_config_dir": "s3://x", "payload_subpath": "p"}',
            ["jupyter_token must be a string"],
        ),
        (b'{"s3_config_dir": "s3://x"}', ["payload_subpath", "required"]),
        (b'{"s3_config_dir": "s3://x", "payload_subpath": "p", "colour": "red"}', ["colour"]),
        (b'{"s3_config_dir": 7, "payload_subpath": "p"}', ["s3_config_dir"]),
    ],
)
def test_bad_execution_bodies_are_400_saying_why(dpr, content, words):
    response = dpr.post("/dpr/processes/s1_l0/execution", content=content, headers={"Content-Type": "application/json"})
    body = assert_problem(response, 400, *words)
    assert "12345678" not in body["detail"]


def test_jobs_are_listed_with_the_original_messages_and_page_on_request(dpr):
    first, second = (
        run(dpr)["jobID"],
        run(dpr, "conv_safe_zarr", {"input_safe_path": "s3://b/S1A.SAFE", "output_zarr_dir_path": "s3://b/zarr"})[
            "jobID"
        ],
    )
    wait_for(dpr, f"/dpr/jobs/{second}", "successful")
    wait_for(dpr, f"/dpr/jobs/{first}", "successful")
    body = dpr.get("/dpr/jobs").json()
    check(body, "jobList.yaml")
    assert [j["jobID"] for j in body["jobs"]] == [second, first] and body["links"][0]["rel"] == "self"
    assert ast.literal_eval(body["jobs"][0]["message"]) == {"zarr": "s3://b/zarr/S1A.zarr"}
    page = dpr.get("/dpr/jobs", params={"limit": 1}).json()
    assert [j["jobID"] for j in page["jobs"]] == [second]
    following = [link["href"] for link in page["links"] if link["rel"] == "next"][0]
    assert following.startswith("http://dpr.test/dpr/jobs?")
    assert [j["jobID"] for j in dpr.get(following).json()["jobs"]] == [first]
    assert_problem(dpr.get("/dpr/jobs", params={"status": "sleeping"}), 400, "status")


def test_an_unknown_job_is_a_404_on_every_job_route(dpr):
    for method, path in [("GET", ""), ("GET", "/results"), ("GET", "/logs"), ("DELETE", "")]:
        assert_problem(dpr.request(method, f"/dpr/jobs/nope{path}"), 404, "nope")


def test_results_of_a_running_job_are_not_ready(dpr):
    job_id = run(dpr, "mockup", {"duration": 5})["jobID"]
    assert_problem(dpr.get(f"/dpr/jobs/{job_id}/results"), 404, "not ready")
    dpr.delete(f"/dpr/jobs/{job_id}")


def test_deleting_a_running_job_dismisses_it_and_its_work_stops(dpr):
    job_id = run(dpr, "mockup", {"duration": 2})["jobID"]
    wait_for(dpr, f"/dpr/jobs/{job_id}", "running")
    response = dpr.delete(f"/dpr/jobs/{job_id}")
    assert response.status_code == 200 and response.json()["status"] == "dismissed"
    check(response.json(), "statusInfo.yaml")
    # for longer than the whole run would have taken, had it gone on
    waiting.holds_for(lambda: dpr.get(f"/dpr/jobs/{job_id}").json()["status"] == "dismissed", 2.5, "the dismissal")
    lines = [entry["line"] for entry in dpr.get(f"/jobs/{job_id}/logs").json()["logs"]]
    assert "mockup: step 10/10 done" not in lines


def test_deleting_a_finished_job_keeps_it_and_purging_it_removes_it(dpr):
    job_id = run(dpr)["jobID"]
    wait_for(dpr, f"/dpr/jobs/{job_id}", "successful")
    assert dpr.delete(f"/dpr/jobs/{job_id}").json()["status"] == "successful"
    assert dpr.delete(f"/dpr/jobs/{job_id}", params={"purge": "true"}).json()["status"] == "dismissed"
    assert_problem(dpr.get(f"/dpr/jobs/{job_id}"), 404)


def test_a_late_log_subscriber_gets_every_line_from_the_first_and_the_stream_ends_with_the_job(dpr):
    job_id = run(dpr, "mockup", {"duration": 1})["jobID"]
    waiting.wait_for(lambda: len(dpr.get(f"/jobs/{job_id}/logs").json()["logs"]) >= 3, 30, "three log lines")
    assert dpr.get(f"/dpr/jobs/{job_id}").json()["status"] == "running"  # subscribing late, mid-run
    received = events(dpr, f"/dpr/jobs/{job_id}/logs")
    assert [e["id"] for e in received] == [str(seq) for seq in range(11)]
    assert (
        received[0]["data"] == "mockup: processing S1SEWRAW for 1 s"
        and received[-1]["data"] == "mockup: step 10/10 done"
    )
    assert dpr.get(f"/dpr/jobs/{job_id}").json()["status"] == "successful"
    resumed = events(dpr, f"/dpr/jobs/{job_id}/logs", **{"Last-Event-ID": "7"})
    assert [e["id"] for e in resumed] == ["8", "9", "10"]


def test_the_ogc_logs_stream_server_sent_events_on_request_and_pages_otherwise(dpr):
    job_id = run(dpr, "mockup", {"duration": 0.3})["jobID"]
    received = events(dpr, f"/jobs/{job_id}/logs?after=4", Accept="text/event-stream")
    lines, end = received[:-1], received[-1]
    assert [msgspec.json.decode(e["data"])["seq"] for e in lines] == list(range(5, 11)) == [int(e["id"]) for e in lines]
    assert msgspec.json.decode(lines[-1]["data"])["line"] == "mockup: step 10/10 done"
    assert end == {"event": "end", "data": '{"status":"successful"}'}
    assert len(dpr.get(f"/jobs/{job_id}/logs").json()["logs"]) == 11
    assert dpr.get("/jobs/nope/logs", headers={"Accept": "text/event-stream"}).status_code == 404
