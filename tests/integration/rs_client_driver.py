"""Drives a dpr server with rs-client-libraries' ``DprClient``, as a user's script would.

Run by ``test_rs_client.py`` with the client's own virtualenv (never dpr's: its pins clash),
with ``RSPY_HOST_DPR_SERVICE`` naming the server. Every request and response goes through the
client's validation against the OpenAPI file it bundles. Prints what it saw as one JSON object.
"""

from __future__ import annotations

import json
import os
import sys

from rs_client.ogcapi.dpr_client import DprClient
from rs_client.ogcapi.ogcapi_client import OgcApiClient


def attempt(call, *args, **kwargs):
    """The call's answer, or the error it raised as text."""
    try:
        return call(*args, **kwargs)
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}


def keyed_only(key: str) -> None:
    """Against a server with API keys: the client in cluster mode sends ``key`` as x-api-key."""
    url = os.environ["RSPY_HOST_DPR_SERVICE"]
    client = DprClient(url, key)
    seen: dict = {"processes": OgcApiClient.get_processes(client)}
    job = client._run_process("mockup", {"duration": 0.1})
    seen["result"] = client.wait_for_job(job, None, "mockup", timeout=60, poll_interval=1)
    seen["jobs"] = OgcApiClient.get_jobs(client)
    seen["wrong_key"] = attempt(OgcApiClient.get_processes, DprClient(url, "dpr_not-a-key"))
    json.dump(seen, sys.stdout)


def main() -> None:
    if os.environ.get("DPR_TEST_API_KEY"):
        keyed_only(os.environ["DPR_TEST_API_KEY"])
        return
    client = DprClient(None)  # local mode: the service URL comes from RSPY_HOST_DPR_SERVICE
    seen: dict = {"href": client.href_service}
    # DprClient hides the list routes (NotImplementedError); the OGC client's own methods reach them
    seen["processes"] = OgcApiClient.get_processes(client)
    seen["task_table"] = client.get_process("s1_l0")
    seen["mockup"] = client.get_process("mockup")

    job = client.run_process(
        "s1_l0", s3_config_dir="s3://rs-bucket/config/run-1", payload_subpath="payload.yaml", s3_report_dir=None
    )
    seen["submitted"] = job
    seen["result"] = client.wait_for_job(job, None, "s1_l0", timeout=60, poll_interval=1)
    seen["results"] = OgcApiClient.get_job_results(client, job["jobID"])

    conversion = client.run_conv_safe_zarr(
        {"input_safe_path": "s3://rs-bucket/S1A_IW_RAW.SAFE", "output_zarr_dir_path": "s3://rs-bucket/zarr"}
    )
    seen["conversion"] = client.wait_for_job(conversion, None, "conversion", timeout=60, poll_interval=1)

    failing = client._run_process("mockup", {"duration": 0.2, "fail": True})
    seen["failure"] = attempt(client.wait_for_job, failing, None, "failing mockup", timeout=60, poll_interval=1)

    long = client._run_process("mockup", {"duration": 60})
    seen["dismissed"] = OgcApiClient.delete_job(client, long["jobID"])
    seen["after_dismiss"] = client.get_job_info(long["jobID"])
    seen["jobs"] = OgcApiClient.get_jobs(client)
    seen["unknown_job"] = attempt(client.get_job_info, "no-such-job")
    seen["unknown_process"] = attempt(client.get_process, "no-such-process")

    # cluster mode: an RS-Server URL and an API key, sent as a header that dpr does not need
    keyed = DprClient(os.environ["RSPY_HOST_DPR_SERVICE"], "an-api-key")
    seen["keyed"] = keyed.get_job_info(job["jobID"])["status"]
    json.dump(seen, sys.stdout)


if __name__ == "__main__":
    main()
