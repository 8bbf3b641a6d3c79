"""EOPF processors without EOPF: payload rewriting, progress lines, output discovery, the
environment check, the child's environment and the shipped catalogue."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from dpr.adapters.catalog import build_catalog
from dpr.adapters.config import load_settings
from dpr.adapters.processors import eopf_payload as payloads
from dpr.adapters.processors.eopf import EopfProcessor
from dpr.adapters.processors.eopf_cluster import plan_for, tls_config
from dpr.adapters.processors.eopf_convert import EopfConvertProcessor
from dpr.adapters.processors.eopf_env import EopfEnvironment, Missing
from dpr.adapters.processors.eopf_run import (
    EopfOutput,
    RunFolder,
    redacted,
    written_products,
)
from dpr.adapters.processors.eopf_storage import resolve, s3_options
from dpr.adapters.processors.eopf_tasktables import (
    load_task_table,
    shipped,
    unit_modules,
)
from dpr.domain.errors import ProcessorError
from dpr.domain.events import Logged, Progressed
from dpr.domain.secrets import MASK
from tests.builders import processor_context

ADDRESS = payloads.DaskPlan(kind="address", address="tcp://10.0.0.7:8786")
EOPF3 = """
general_configuration:
  triggering__wait_before_exit: 90
workflow:
  - name: generator
    module: eopf.computing.utils
    processing_unit: EOImageGeneratorUnit
    outputs: {out: generated}
io:
  output_products:
    - id: generated
      path: output/generated.zarr
      engine: cpm_zarr
      writer_params:
        default_codec: !ZarrCompressor {cname: zstd, clevel: 3}
    - id: finals
      path: ${OUT_ROOT}/finals
      type: folder
      engine: cpm_zarr
context_managers:
  - module: eopf.dask_utils.dask_context_manager
    context_manager: DaskContext
    parameters:
      cluster_type: gateway
      cluster_config: {address: "https://gateway", auth: {type: jupyterhub, api_token: hub-token-1234}}
  - module: my.timing
    context_manager: Timer
"""
LEGACY = """
dask_context:
  cluster_type: gateway
  cluster_config: {address: "https://gateway", reuse_cluster: dask-gateway.17e1}
I/O:
  output_products:
    - {id: out, path: "s3://bucket/out/S03OLCEFR.zarr", store_type: zarr}
"""


def dask_managers(payload: dict) -> list[dict]:
    return [m for m in payload.get("context_managers", []) if m["module"] == payloads.DASK_MODULE]


# --- payload rewriting ---------------------------------------------------------------------


def test_the_payload_s_dask_context_is_replaced_by_the_job_s_cluster_and_other_managers_stay():
    original = payloads.load_payload(EOPF3)
    prepared = payloads.prepare(original, ADDRESS)
    (dask,) = dask_managers(prepared)
    assert dask["parameters"] == {
        "cluster_type": "address",
        "client_config": {"address": "tcp://10.0.0.7:8786"},
        "auto_gc": False,
    }
    assert prepared["context_managers"][0] is dask and prepared["context_managers"][1]["module"] == "my.timing"
    assert dask_managers(original)[0]["parameters"]["cluster_type"] == "gateway", "the original payload is not changed"


def test_a_legacy_top_level_dask_context_is_rewritten_in_place():
    prepared = payloads.prepare(payloads.load_payload(LEGACY), ADDRESS)
    assert prepared["dask_context"] == {
        "cluster_type": "address",
        "client_config": {"address": "tcp://10.0.0.7:8786"},
        "auto_gc": False,
    }
    assert "context_managers" not in prepared


def test_outside_dask_the_dask_context_is_removed_and_payload_mode_keeps_it():
    assert dask_managers(payloads.prepare(payloads.load_payload(EOPF3), payloads.DaskPlan(kind="none"))) == []
    assert "dask_context" not in payloads.prepare(payloads.load_payload(LEGACY), payloads.DaskPlan(kind="none"))
    kept = payloads.prepare(payloads.load_payload(EOPF3), payloads.DaskPlan(kind="payload"))
    assert dask_managers(kept)[0]["parameters"]["cluster_type"] == "gateway"


def test_experimental_local_cluster_runs_eopf_on_a_local_cluster_and_the_rest_is_merged():
    experimental = {
        "local_cluster": {"enabled": True, "n_workers": 2, "memory_limit": None},
        "general_configuration": {"triggering__validate_run": False},
    }
    prepared = payloads.prepare(payloads.load_payload(EOPF3), ADDRESS, experimental)
    assert dask_managers(prepared)[0]["parameters"] == {
        "cluster_type": "local",
        "cluster_config": {"threads_per_worker": 1, "n_workers": 2},
    }
    assert prepared["general_configuration"]["triggering__validate_run"] is False
    assert len(prepared["io"]["output_products"]) == 2


@pytest.mark.parametrize(
    "experimental",
    [
        {"io": {"adfs": []}},
        {"context_managers": [{"module": "subprocess", "context_manager": "Popen"}]},
        {"local_cluster": {"enabled": True, "worker_class": "subprocess.Popen"}},
        {"general_configuration": {"x": {"module": "os"}}},
    ],
)
def test_experimental_config_may_set_only_plain_settings_and_the_local_cluster_switch(experimental):
    with pytest.raises(ValueError, match="experimental_config"):
        payloads.prepare(payloads.load_payload(EOPF3), ADDRESS, experimental)


def test_progress_logging_is_switched_on_and_the_payload_s_own_wait_is_kept():
    general = payloads.prepare(payloads.load_payload(EOPF3), ADDRESS)["general_configuration"]
    assert general["triggering__progress_logging"] is True and general["logging__progress_format"] == "FULL"
    assert general["triggering__wait_before_exit"] == 90 and general["triggering__use_basic_logging"] is True
    assert payloads.prepare({}, ADDRESS)["general_configuration"]["triggering__wait_before_exit"] == 0


def test_custom_yaml_tags_survive_a_rewrite():
    dumped = payloads.dump_payload(payloads.prepare(payloads.load_payload(EOPF3), ADDRESS))
    assert "!ZarrCompressor" in dumped and "cname: zstd" in dumped
    again = payloads.load_payload(dumped)["io"]["output_products"][0]["writer_params"]["default_codec"]
    assert again.tag == "!ZarrCompressor" and again.value == {"cname": "zstd", "clevel": 3}


def test_a_payload_that_is_not_a_mapping_is_refused_with_a_reason():
    with pytest.raises(ValueError, match="not a YAML mapping"):
        payloads.load_payload("- a\n- b\n")
    with pytest.raises(ValueError, match="not valid YAML"):
        payloads.load_payload("a: [\n")


def test_secret_values_are_found_and_redacted_for_the_log():
    payload = payloads.load_payload(EOPF3)
    assert "hub-token-1234" in payloads.secret_values(payload)
    assert "hub-token-1234" not in str(redacted(payload)) and "https://gateway" in str(redacted(payload))


def test_a_tls_cluster_s_in_memory_certificates_go_to_private_files(tmp_path):
    class Security:
        tls_ca_file = "-----BEGIN CERTIFICATE-----\nca\n"
        tls_client_cert = "/etc/dask/cert.pem"
        tls_client_key = "-----BEGIN PRIVATE KEY-----\nkey\n"

    config = tls_config(Security(), tmp_path / "tls")
    key = Path(config["distributed.comm.tls.client.key"])
    assert (
        config["distributed.comm.require-encryption"] is True
        and config["distributed.comm.tls.client.cert"] == "/etc/dask/cert.pem"
    )
    assert key.read_text().startswith("-----BEGIN PRIVATE KEY") and stat.S_IMODE(key.stat().st_mode) == 0o600
    assert tls_config(object(), tmp_path) == {}


def test_outside_a_dask_worker_the_job_cluster_plan_is_no_cluster(tmp_path):
    assert plan_for("job_cluster", {}, tmp_path).kind == "none"
    assert plan_for("local", {"n_workers": 3}, tmp_path).cluster_config == {"threads_per_worker": 1, "n_workers": 3}
    with pytest.raises(ValueError, match="option 'dask'"):
        plan_for("cloud", {}, tmp_path)


# --- progress and report lines --------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "percent", "message"),
    [
        (
            "2026-11-27 21:54:02,221 : [INFO] eopf.triggering.workflow_progress : _log :: "
            "Workflow progress: 0% - running unit 1/2: generator",
            0,
            "running unit 1/2: generator",
        ),
        (
            "... :: Workflow progress: 45% - unit 1/2 run call completed: generator in 0.21s",
            45,
            "unit 1/2 run call completed: generator in 0.21s",
        ),
        ("Workflow progress: 100% - workflow completed", 100, "workflow completed"),
        ("... :: Progress: 30% - reading ADFs", 30, "reading ADFs"),
        ("2026-11-27 21:54:02,221 : [INFO] eopf.triggering.workflow_progress : _log :: 42%", 42, None),
    ],
)
def test_eopf_progress_lines_are_read(line, percent, message):
    assert payloads.parse_progress(line) == payloads.Progress(percent=percent, message=message)


@pytest.mark.parametrize(
    "line", ["Opening input products", "Wrote output generated in 0.27s", "the disk is 95% full, careful"]
)
def test_other_lines_are_no_progress(line):
    assert payloads.parse_progress(line) is None


def test_the_execution_report_gives_the_written_products():
    line = (
        "2026 : [INFO] eopf.triggering.runner : runner : run :: "
        '{"message":"Workflow execution report","status":"completed",'
        '"written_products":[{"product_id":"generated","path":"output/generated.zarr","engine":"cpm_zarr"}]}'
    )
    assert payloads.parse_report(line)["written_products"][0]["path"] == "output/generated.zarr"
    assert payloads.parse_report("Workflow execution report follows: {not json") is None


def test_the_run_s_output_is_masked_mapped_to_job_progress_and_kept_in_the_reports(tmp_path):
    run_context, events = processor_context({"AWS_SECRET_ACCESS_KEY": "s3cr3t-value"})
    output = EopfOutput(run_context, ["hub-token-1234"], tmp_path / "reports" / "payload.processor.log")
    output.log("connecting with s3cr3t-value and hub-token-1234")
    output.log("x :: Workflow progress: 50% - running unit 2/2: writer")
    output.close()
    logged = [e.line for e in events if isinstance(e, Logged)]
    assert logged[0] == f"connecting with {MASK} and {MASK}"
    assert [(e.progress, e.message) for e in events if isinstance(e, Progressed)] == [(50, "running unit 2/2: writer")]
    assert "s3cr3t" not in (tmp_path / "reports" / "payload.processor.log").read_text()


# --- output discovery -----------------------------------------------------------------------


def test_written_products_are_the_reported_ones_then_the_declared_ones_that_exist(tmp_path):
    payload = payloads.load_payload(EOPF3)
    (tmp_path / "output" / "generated.zarr").mkdir(parents=True)
    (tmp_path / "out" / "finals" / "S03_PRODUCT.zarr").mkdir(parents=True)
    env = {"OUT_ROOT": str(tmp_path / "out")}
    report = {
        "written_products": [
            {"product_id": "finals", "path": "${OUT_ROOT}/finals/S03_PRODUCT.zarr", "engine": "cpm_zarr", "unit": "gen"}
        ]
    }
    products = written_products(payload, report, tmp_path, env)
    assert products == [
        {"id": "finals", "path": str(tmp_path / "out/finals/S03_PRODUCT.zarr"), "engine": "cpm_zarr", "unit": "gen"},
        {"id": "generated", "path": str(tmp_path / "output/generated.zarr"), "engine": "cpm_zarr"},
    ]


def test_a_reported_product_that_is_missing_fails_the_run(tmp_path):
    report = {"written_products": [{"product_id": "generated", "path": "output/generated.zarr"}]}
    with pytest.raises(ProcessorError, match="EOPF reported output 'generated'"):
        written_products(payloads.load_payload(EOPF3), report, tmp_path, {})


def test_a_run_that_wrote_none_of_its_declared_outputs_fails(tmp_path):
    with pytest.raises(ProcessorError, match="wrote none of the declared outputs: generated"):
        written_products(payloads.load_payload(EOPF3), None, tmp_path, {"OUT_ROOT": str(tmp_path)})


def test_declared_outputs_are_read_from_io_or_the_older_i_o_section():
    assert [o.id for o in payloads.declared_outputs(payloads.load_payload(EOPF3))] == ["generated", "finals"]
    assert payloads.declared_outputs(payloads.load_payload(LEGACY)) == [
        payloads.OutputProduct(id="out", path="s3://bucket/out/S03OLCEFR.zarr", engine="zarr")
    ]


def test_paths_resolve_as_eopf_sees_them(tmp_path):
    assert resolve("zip::s3://b/x.zip", tmp_path, {}) == "s3://b/x.zip"
    assert resolve("$ROOT/a.zarr", tmp_path, {"ROOT": "/data"}) == "/data/a.zarr"
    assert resolve("out/a.zarr", tmp_path, {}) == str(tmp_path / "out/a.zarr")


def test_a_payload_path_may_not_leave_the_configuration_folder():
    with RunFolder("job-1") as run:
        run.config.mkdir()
        with pytest.raises(ProcessorError, match="outside the configuration folder"):
            run.payload_file("../home/x.yaml")
        with pytest.raises(ProcessorError, match="no payload 'p.yaml'"):
            run.payload_file("p.yaml")
    assert not run.root.exists()


# --- the EOPF environment and the child's environment ---------------------------------------


def test_without_eopf_the_description_says_so_and_a_run_fails_fast_without_traceback(tmp_path):
    processor = EopfProcessor(
        id="s1_l0", venv=str(tmp_path / "no-venv"), task_table="s1_l0", requires="the S1 L0 package (module l0.s1)"
    )
    assert processor.describe().description.endswith(
        " Not available: EOPF is not installed on this server (an administrator installs it with `dpr eopf install`)."
        " To enable it, install the S1 L0 package (module l0.s1) into the EOPF environment."
    )
    assert str(tmp_path) not in processor.describe().description, "no path of the server"
    assert processor.unavailable() == f"its interpreter {tmp_path}/no-venv/bin/python does not exist", "for admins"
    with pytest.raises(
        ProcessorError,
        match=r"^EOPF is not available on this worker: EOPF is not installed on this server \(an administrator",
    ):
        processor.run({"s3_config_dir": str(tmp_path), "payload_subpath": "p.yaml"}, processor_context()[0])


def test_a_description_says_whether_eopf_or_only_the_processing_units_are_missing():
    assert (
        EopfEnvironment(python=sys.executable)
        .describe("Runs L0.", [], "the L0 package")
        .startswith("Runs L0. Not available: EOPF is not installed on this server")
    ), "dpr's own Python has no EOPF"
    units = Missing(reason="l0.s1 not installed for /opt/eopf/bin/python (Python 3.13.0)", modules=["l0.s1"])
    assert units.public("the S1 L0 package") == (
        "its EOPF processing units (l0.s1) are not installed on this server."
        " To enable it, install the S1 L0 package into the EOPF environment"
    )


def test_an_environment_without_the_units_modules_names_them():
    environment = EopfEnvironment(python=sys.executable)
    assert (environment.problem(["dpr_absent_unit.l0.processor"]) or "").endswith(
        f"dpr_absent_unit.l0.processor not installed for {sys.executable} (Python {sys.version.split()[0]})"
    )
    assert EopfEnvironment().problem() == "no EOPF environment is configured (process option 'venv' or 'python')"
    with pytest.raises(ValueError, match="not both"):
        EopfEnvironment(venv="/opt/eopf", python="/usr/bin/python3")


def test_the_conversion_without_eopf_is_listed_as_unavailable_and_fails_fast(tmp_path):
    processor = EopfConvertProcessor(venv=str(tmp_path / "no-venv"))
    description = processor.describe()
    assert description.id == "conv_safe_zarr" and set(description.inputs) == {"input_safe_path", "output_zarr_dir_path"}
    assert "Not available: EOPF is not installed on this server" in (description.description or "")
    with pytest.raises(ProcessorError, match="^EOPF is not available on this worker"):
        inputs = {"input_safe_path": "s3://b/S1A.SAFE", "output_zarr_dir_path": "s3://b/zarr"}
        processor.run(inputs, processor_context()[0])


def test_the_child_sees_only_the_run_s_variables_and_s3_aliases(monkeypatch, tmp_path):
    monkeypatch.setenv("DPR_STORAGE_URL", "postgresql://dpr:db-password@db/dpr")
    env = EopfEnvironment(venv=str(tmp_path)).child_env(
        {"S3_ACCESSKEY": "AKIA1", "S3_SECRETKEY": "s3cr3t"}, {"EOPF_X": "1"}, "/tmp/h"
    )
    assert "DPR_STORAGE_URL" not in env and "db-password" not in str(env)
    assert env["AWS_ACCESS_KEY_ID"] == "AKIA1" and env["AWS_SECRET_ACCESS_KEY"] == "s3cr3t" and env["EOPF_X"] == "1"
    assert env["HOME"] == "/tmp/h" and env["PATH"].startswith(str(tmp_path / "bin"))


def test_s3fs_options_come_from_the_run_s_environment_only(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "worker-key")
    assert s3_options({}) == {"skip_instance_cache": True}
    assert s3_options(
        {
            "AWS_ACCESS_KEY_ID": "k",
            "AWS_SECRET_ACCESS_KEY": "s",
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
            "AWS_DEFAULT_REGION": "eu",
        }
    ) == {
        "skip_instance_cache": True,
        "key": "k",
        "secret": "s",
        "endpoint_url": "http://127.0.0.1:9",
        "client_kwargs": {"region_name": "eu"},
    }


# --- the shipped catalogue and task tables --------------------------------------------------


def test_the_processor_catalogue_lists_the_original_processes_with_their_task_tables(tmp_path):
    settings = load_settings("config/dpr-processors.yaml", env={"DPR_EOPF_VENV": str(tmp_path / "absent")})
    catalog, refs = build_catalog(settings.processes)
    assert catalog.ids() == ["mockup", "eopf", "s1_l0", "s3_l0", "s1_ard", "s3_l1olci", "s3_l2olci", "conv_safe_zarr"]
    names = {pid: (catalog.task_table(pid) or {}).get("tasktable", {}).get("name") for pid in catalog.ids()}
    assert names == {
        "mockup": "mockup-processor",
        "eopf": None,
        "s1_l0": "s1-l0",
        "s3_l0": "s3-l0",
        "s1_ard": "s1-ard",
        "s3_l1olci": "s3-olci-l1-eo",
        "s3_l2olci": "s3-olci-l2",
        "conv_safe_zarr": None,
    }
    for pid in catalog.ids()[1:]:
        assert "Not available: EOPF is not installed on this server" in (catalog.get(pid).description or ""), pid
        assert str(tmp_path) not in (catalog.get(pid).description or "")
        assert "AWS_SECRET_ACCESS_KEY" in refs[pid].env


@pytest.mark.parametrize("name", shipped())
def test_each_shipped_task_table_is_consistent(name):
    table = load_task_table(name)
    assert {"tasktable", "external_variables", "units", "io", "pipelines"} <= set(table)
    io = {entry["name"] for entry in table["io"]}
    units = {unit["name"]: unit for unit in table["units"]}
    for unit in units.values():
        assert unit["module"] and unit["resources_min"]["dask"]["worker_count"] >= 1
        for key in ("input_products", "input_adfs", "output_products"):
            assert {p["name"] for p in unit.get(key, [])} <= io, (name, unit["name"], key)
    for pipeline in table["pipelines"]:
        for step in pipeline["steps"]:
            assert step["unit_name"] in units
            for source in step["input_products"].values():
                assert source == "pipeline_input" or source.split(".")[0] in units
    assert unit_modules(table)


def test_a_task_table_that_is_not_one_is_refused(tmp_path):
    (tmp_path / "t.json").write_text('{"units": []}')
    with pytest.raises(ValueError, match="no 'tasktable' header"):
        load_task_table(str(tmp_path / "t.json"))
    with pytest.raises(ValueError, match="no task table named 'nope'"):
        load_task_table("nope")


def test_the_plan_says_where_eopf_computes_and_why():
    assert ADDRESS.describe() == "EOPF computes on the job's Dask cluster tcp://10.0.0.7:8786"
    local = payloads.effective_plan(ADDRESS, {"local_cluster": {"enabled": True}})
    assert local.describe() == "EOPF computes on a LocalCluster of its own (experimental_config.local_cluster)"
    assert payloads.effective_plan(ADDRESS, {"local_cluster": {"enabled": False}}) is ADDRESS
