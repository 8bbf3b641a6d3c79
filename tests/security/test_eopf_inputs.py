"""Attacks through the EOPF processors' inputs (issue 14, section 1), against a real server:
locations outside what the server allows, payload content in the log, experimental_config that
makes EOPF import a module, conversion paths that are options, links out of a payload folder."""

from __future__ import annotations

import os
import re
import time

import httpx
import pytest
import yaml

from tests.security.eopf_server import eopf_server

MARKER = "payload-content-8c1f4e"
PAYLOAD = f"general_configuration:\n  note: {MARKER}\nworkflow: []\n"


def _product(path: str) -> dict:
    return {"id": "p", "path": path, "type": "file", "engine": "cpm_zarr"}


BAD_PAYLOADS = {  # name: (the payload, the field the failed run names)
    "output-outside": (
        {"io": {"output_products": [_product("{where}/outside/out.zarr")]}},
        "io.output_products[0].path",
    ),
    "input-etc": ({"io": {"input_products": [_product("file:///etc/passwd")]}}, "io.input_products[0].path"),
    "adf-bucket": ({"io": {"adfs": [{"id": "DEM", "path": "s3://other-bucket/adf"}]}}, "io.adfs[0].path"),
    "output-link": ({"io": {"output_products": [_product("{where}/allowed/escape/x")]}}, "io.output_products[0].path"),
    "relative-out": ({"io": {"output_products": [_product("../../../../outside/x")]}}, "io.output_products[0].path"),
    "secret-file": ({"secret": ["/etc/shadow"]}, "secret[0]"),
    "parameter": (
        {"workflow": [{"name": "u", "parameters": {"source": "/etc/passwd"}}]},
        "workflow[0].parameters.source",
    ),
    "endpoint": (
        {
            "io": {
                "adfs": [
                    {
                        "id": "D",
                        "path": "s3://allowed-bucket/dpr/a",
                        "store_params": {"endpoint_url": "http://127.0.0.1:9"},
                    }
                ]
            }
        },
        "io.adfs[0].store_params.endpoint_url",
    ),
    "http-input": ({"io": {"input_products": [_product("https://example.org/p.zarr")]}}, "io.input_products[0].path"),
    "chain": (
        {"io": {"input_products": [_product("reference::s3://allowed-bucket/dpr/r.json")]}},
        "io.input_products[0].path",
    ),
    "other-scheme": ({"io": {"input_products": [_product("gs://bucket/p.zarr")]}}, "io.input_products[0].path"),
    # EOPF imports every module a payload names: only those of the process's unit packages
    "unit-subprocess": (
        {
            "workflow": [
                {"module": "subprocess", "processing_unit": "Popen", "name": "x", "parameters": {"args": ["id"]}}
            ]
        },
        "workflow[0].module",
    ),
    "context-manager-os": (
        {"context_managers": [{"module": "os", "context_manager": "system", "parameters": {"command": "id"}}]},
        "context_managers[0].module",
    ),
}
GOOD_PAYLOAD = (
    {
        "io": {
            "input_products": [_product("zip::s3://allowed-bucket/dpr/in.zip")],
            "output_products": [_product("{where}/allowed/out.zarr"), {**_product("relative/out.zarr"), "id": "q"}],
        },
        # replaced by dpr's own Dask context: its address is not the payload's to check
        "context_managers": [
            {
                "module": "eopf.dask_utils.dask_context_manager",
                "context_manager": "DaskContext",
                "parameters": {"cluster_type": "address", "client_config": {"address": "tcp://10.0.0.1:8786"}},
            }
        ],
        "general_configuration": {"logging__format": "%(name)s::%(message)s"},
    },
    None,
)


def _located(payload: tuple[dict, str | None], where) -> dict:
    """The payload with ``{where}`` replaced by the test's folder, and no workflow to run."""
    return {"workflow": [], **yaml.safe_load(yaml.safe_dump(payload[0]).replace("{where}", str(where)))}


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The server, and its file tree: ``allowed/`` (the local root it allows) holding a
    payload folder with a link out, a link in and a FIFO; ``outside/`` next to it."""
    where = tmp_path_factory.mktemp("eopf-security")
    allowed, outside = where / "allowed", where / "outside"
    config = allowed / "config"
    config.mkdir(parents=True)
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret")
    (config / "payload.yaml").write_text(PAYLOAD)
    (config / "aux.txt").write_text("auxiliary")
    (config / "link-out").symlink_to(outside / "secret.txt")
    (config / "link-in").symlink_to(config / "aux.txt")
    os.mkfifo(config / "fifo")
    (allowed / "escape").symlink_to(outside)
    reports = allowed / "reports"
    reports.mkdir()
    (reports / "payload.processor.log").write_text("ORIGINAL")
    for name, payload in {**BAD_PAYLOADS, "good": GOOD_PAYLOAD}.items():
        (config / f"{name}.yaml").write_text(yaml.safe_dump(_located(payload, where)))
    allow = ["s3://allowed-bucket/dpr", f"file://{allowed}"]
    with eopf_server(where, allow, narrow=["s3://allowed-bucket/dpr/narrow"]) as url:
        yield url, where


def execute(url: str, process: str, inputs: dict) -> httpx.Response:
    return httpx.post(
        f"{url}/processes/{process}/execution", json={"inputs": inputs}, headers={"Prefer": "respond-async"}
    )


def refused(response: httpx.Response, field: str) -> bool:
    return response.status_code == 400 and f"input '{field}'" in response.json()["detail"]


BAD_CONFIG_DIRS = [
    "/etc",
    "file:///etc",
    "{where}/outside",
    "{where}/allowed/../outside",
    "{where}/allowed/escape",  # a link to outside/
    "{where}/allowed/escape/secret.txt",
    "http://127.0.0.1:9/payloads",
    "https://example.org/payloads",  # http(s) is not configured
    "s3://other-bucket/config",
    "s3://allowed-bucket/dpr-other/config",
    "s3://allowed-bucket/dpr/../private",
    "ftp://example.org/config",
    "config",
]


@pytest.mark.parametrize("location", BAD_CONFIG_DIRS)
def test_a_configuration_folder_the_server_does_not_allow_is_a_400_naming_the_input(site, location):
    url, where = site
    inputs = {"s3_config_dir": location.format(where=where), "payload_subpath": "payload.yaml"}
    assert refused(execute(url, "s1_l0", inputs), "s3_config_dir")


@pytest.mark.parametrize("location", ["/tmp/reports", "{where}/outside", "s3://other-bucket/reports"])
def test_a_reports_folder_the_server_does_not_allow_is_a_400_naming_the_input(site, location):
    url, where = site
    inputs = {
        "s3_config_dir": "s3://allowed-bucket/dpr/config",
        "payload_subpath": "payload.yaml",
        "s3_report_dir": location.format(where=where),
    }
    assert refused(execute(url, "s1_l0", inputs), "s3_report_dir")


def test_a_location_given_as_a_qualified_value_is_checked_as_well(site):
    url, _ = site
    inputs = {"s3_config_dir": {"value": "/etc", "mediaType": "text/plain"}, "payload_subpath": "passwd"}
    assert refused(execute(url, "s1_l0", inputs), "s3_config_dir")


def test_the_original_route_refuses_the_same_locations(site):
    url, _ = site
    body = {"s3_config_dir": "/etc", "payload_subpath": "passwd"}
    response = httpx.post(f"{url}/dpr/processes/s1_l0/execution", json=body)
    assert response.status_code == 400 and "s3_config_dir" in response.text


def test_a_process_s_own_locations_narrow_the_server_s(site):
    url, _ = site
    inputs = {"s3_config_dir": "s3://allowed-bucket/dpr/config", "payload_subpath": "payload.yaml"}
    assert refused(execute(url, "narrow", inputs), "s3_config_dir")
    inputs["s3_config_dir"] = "s3://allowed-bucket/dpr/narrow/config"
    assert execute(url, "narrow", inputs).status_code == 201


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("input_safe_path", "--help"),
        ("input_safe_path", "-h"),
        ("output_zarr_dir_path", "--target-engine=x"),
        ("input_safe_path", "/etc/passwd"),
        ("output_zarr_dir_path", "/tmp/zarr"),
    ],
)
def test_a_conversion_path_that_is_an_option_or_not_allowed_is_a_400(site, field, value):
    url, _ = site
    inputs = {
        "input_safe_path": "s3://allowed-bucket/dpr/S1A.SAFE",
        "output_zarr_dir_path": "s3://allowed-bucket/dpr/z",
    }
    assert refused(execute(url, "conv_safe_zarr", {**inputs, field: value}), field)


@pytest.mark.parametrize(
    "experimental",
    [
        {"module": "subprocess", "context_manager": "Popen", "parameters": {"args": ["id"]}},
        {"context_managers": [{"module": "subprocess", "context_manager": "Popen", "parameters": {"args": ["id"]}}]},
        {"workflow": [{"module": "subprocess", "processing_unit": "Popen", "name": "x"}]},
        {"local_cluster": {"enabled": True, "worker_class": "subprocess.Popen"}},
        {"dask_config": {"distributed": {"worker": {"preload": ["subprocess"]}}}},
        {"general_configuration": {"logging": {"module": "subprocess"}}},
    ],
)
def test_experimental_config_that_would_make_eopf_import_a_module_is_a_400(site, experimental):
    url, _ = site
    inputs = {
        "s3_config_dir": "s3://allowed-bucket/dpr/config",
        "payload_subpath": "payload.yaml",
        "experimental_config": experimental,
    }
    assert refused(execute(url, "s1_l0", inputs), "experimental_config")


def wait_done(url: str, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = httpx.get(f"{url}/jobs/{job_id}").json()
        if job["status"] in ("successful", "failed", "dismissed"):
            return job
        time.sleep(0.2)
    raise TimeoutError(f"job {job_id} did not end in {timeout}s")


def test_an_allowed_run_logs_the_payload_s_name_and_size_copies_no_link_out_and_overwrites_no_report(site):
    url, where = site
    allowed = where / "allowed"
    inputs = {
        "s3_config_dir": str(allowed / "config"),
        "payload_subpath": "payload.yaml",
        "s3_report_dir": f"file://{allowed / 'reports'}",
        "experimental_config": {"general_configuration": {"triggering__validate_run": False}},
    }
    response = execute(url, "s1_l0", inputs)
    assert response.status_code == 201, response.text
    job = wait_done(url, response.json()["jobID"])
    lines = [entry["line"] for entry in httpx.get(f"{url}/jobs/{job['jobID']}/logs").json()["logs"]]
    text = "\n".join(lines)
    assert job["status"] == "successful", text
    assert re.search(r"running payload payload.yaml \(\d+ bytes\)", text)
    assert MARKER not in text, "the payload's content reached the job log"
    listing = next(line for line in lines if line.startswith("working directory holds:"))
    assert "aux.txt" in listing and "link-in" in listing and "payload.yaml" in listing
    assert "link-out" not in listing and "fifo" not in listing
    assert (allowed / "reports" / "payload.processor.log").read_text() == "ORIGINAL"


def test_conversion_paths_follow_the_end_of_options_marker(site):
    url, where = site
    safe = where / "allowed" / "S1A_TEST.SAFE"
    safe.mkdir(exist_ok=True)
    inputs = {"input_safe_path": str(safe), "output_zarr_dir_path": str(where / "allowed" / "zarr")}
    response = execute(url, "conv_safe_zarr", inputs)
    assert response.status_code == 201, response.text
    job = wait_done(url, response.json()["jobID"])
    lines = [entry["line"] for entry in httpx.get(f"{url}/jobs/{job['jobID']}/logs").json()["logs"]]
    ran = next((line for line in lines if line.startswith("eopf stand-in ran convert")), str(job))
    assert ran.endswith(f" -- {safe} {where / 'allowed' / 'zarr'}"), ran


@pytest.mark.parametrize("name", sorted(BAD_PAYLOADS))
def test_a_payload_naming_a_location_the_server_does_not_allow_fails_the_run_naming_the_field(site, name):
    """The payload is read on the worker: no 400 is possible, the run fails before EOPF runs."""
    url, where = site
    inputs = {"s3_config_dir": str(where / "allowed" / "config"), "payload_subpath": f"{name}.yaml"}
    response = execute(url, "s1_l0", inputs)
    assert response.status_code == 201, response.text
    job = wait_done(url, response.json()["jobID"])
    lines = [entry["line"] for entry in httpx.get(f"{url}/jobs/{job['jobID']}/logs").json()["logs"]]
    assert job["status"] == "failed" and BAD_PAYLOADS[name][1] in job["message"], job
    assert not [line for line in lines if line.startswith("eopf stand-in ran")], "EOPF ran"


def test_a_payload_naming_only_allowed_locations_runs(site):
    url, where = site
    inputs = {"s3_config_dir": str(where / "allowed" / "config"), "payload_subpath": "good.yaml"}
    response = execute(url, "s1_l0", inputs)
    job = wait_done(url, response.json()["jobID"])
    lines = [entry["line"] for entry in httpx.get(f"{url}/jobs/{job['jobID']}/logs").json()["logs"]]
    assert [line for line in lines if line.startswith("eopf stand-in ran trigger local")], (job, lines)
