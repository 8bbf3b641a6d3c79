"""What the EOPF tests stand on: the EOPF environment, an S3 server, a Dask cluster run from
the EOPF environment, and payloads that need no satellite data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import fsspec
import pytest
import yaml

from dpr.adapters.processors.eopf_install import EOPF_VERSION, InstallError, find_python
from tests.integration.server import free_port, wait_for_port
from tests.waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
VENV = ROOT / ".cache" / f"eopf-venv-{EOPF_VERSION}"
KEY_ID, SECRET, REGION = "AKIADPRTEST7Q2M4X9", "dpr-test-secret-4f9a1c7e2b", "eu-west-1"


def eopf_environment() -> Path:
    """The EOPF virtualenv, built (once, about 1.3 GB and a few minutes) and reused by the
    command users run, ``dpr eopf install``; dpr is installed in it (editable) for the Dask
    workers. Skips outside CI when there is no Python >= 3.13 (``DPR_PYTHON313`` names one)."""
    explicit = os.environ.get("DPR_PYTHON313")
    try:
        find_python(explicit)
    except InstallError as e:
        if os.environ.get("CI") == "true":
            pytest.fail(str(e))
        pytest.skip(str(e))
    argv = [sys.executable, "-m", "dpr", "eopf", "install", "--path", str(VENV), "--json"]
    done = subprocess.run(
        [*argv, *(["--python", explicit] if explicit else [])],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=1500,
        check=False,
    )
    if done.returncode:
        pytest.fail(f"dpr eopf install failed ({done.returncode}):\n{done.stderr[-3000:]}")
    report = json.loads(done.stdout)
    assert report["env"] == {"DPR_EOPF_VENV": str(VENV)} and Path(report["dpr"]).is_relative_to(ROOT / "src")
    return VENV


class S3Server:
    """moto's S3-compatible server on 127.0.0.1, with a bucket ``dpr``."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer

        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        wait_for_port(self.port)
        self.fs = fsspec.filesystem("s3", **self.options(), skip_instance_cache=True)
        self.fs.mkdir("dpr")

    def options(self) -> dict[str, Any]:
        return {
            "key": KEY_ID,
            "secret": SECRET,
            "endpoint_url": self.endpoint,
            "client_kwargs": {"region_name": REGION},
        }

    def put_folder(self, prefix: str, files: Mapping[str, str]) -> None:
        for name, text in files.items():
            self.fs.pipe(f"{prefix}/{name}", text.encode())

    def listing(self, prefix: str) -> list[str]:
        self.fs.invalidate_cache()
        return sorted(path.rsplit("/", 1)[-1] for path in self.fs.find(prefix))

    def read(self, path: str) -> str:
        return self.fs.cat(path).decode()

    def stop(self) -> None:
        self._server.stop()


def s3_env(s3: S3Server) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
        "AWS_ENDPOINT_URL_S3": s3.endpoint,
        "AWS_DEFAULT_REGION": REGION,
    }


@contextmanager
def start_cluster(venv: Path, folder: Path, env: Mapping[str, str]) -> Iterator[str]:
    """``dask scheduler`` and one ``dask worker`` (two threads: the job's and EOPF's tasks) run
    from ``venv``; yields the scheduler address."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    base = {
        "PATH": f"{venv / 'bin'}:/usr/bin:/bin",
        "HOME": str(folder),
        "LANG": "C.UTF-8",
    }
    dask = str(venv / "bin" / "dask")
    processes = [
        _spawn(
            folder / "scheduler.log",
            [dask, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            base,
        )
    ]
    try:
        wait_for_port(port)
        worker_log = folder / "worker.log"
        processes.append(
            _spawn(
                worker_log,
                [
                    dask,
                    "worker",
                    address,
                    "--host",
                    "127.0.0.1",
                    "--nthreads",
                    "2",
                    "--no-nanny",
                    "--no-dashboard",
                    "--death-timeout",
                    "30",
                    "--local-directory",
                    str(folder),
                ],
                {**base, **env},
            )
        )

        def registered() -> bool:
            if processes[-1].poll() is not None:
                raise RuntimeError(f"the Dask worker exited:\n{worker_log.read_text()[-3000:]}")
            return "Registered to" in worker_log.read_text()

        try:
            wait_for(registered, 120, "the Dask worker to register", interval=0.2)
        except TimeoutError as e:
            raise RuntimeError(f"{e}:\n{worker_log.read_text()[-3000:]}") from None
        yield address
    finally:
        for process in reversed(processes):
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _spawn(log: Path, argv: list[str], env: Mapping[str, str]) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            argv, cwd=log.parent, env=dict(env), stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL
        )


def generator_payload(output: Path, wait_before_exit: int = 0, storage_options: dict[str, Any] | None = None) -> str:
    """A payload that synthesises a small image product (EOImageGeneratorUnit) written as
    Zarr at ``output``; its own Dask context (a LocalCluster) is replaced by dpr."""
    payload: dict[str, Any] = {
        "general_configuration": {"triggering__wait_before_exit": wait_before_exit, "triggering__validate_run": False},
        "workflow": [
            {
                "name": "generator",
                "module": "eopf.computing.utils",
                "processing_unit": "EOImageGeneratorUnit",
                "outputs": {"out": "generated"},
                "parameters": {"nb_var": 2, "size_x": 64, "size_y": 64, "chunk_x": 32, "chunk_y": 32},
            }
        ],
        "io": {"output_products": [{"id": "generated", "path": str(output), "type": "file", "engine": "cpm_zarr"}]},
        "context_managers": [
            {
                "module": "eopf.dask_utils.dask_context_manager",
                "context_manager": "DaskContext",
                "parameters": {"cluster_type": "local", "cluster_config": {"n_workers": 4}},
            }
        ],
    }
    if storage_options is not None:  # an ADF the workflow does not use, with keys in the payload
        payload["io"]["adfs"] = [
            {"id": "DEM", "path": "s3://dpr/adfs/DEM.zarr", "adf_params": {"storage_options": storage_options}}
        ]
    return yaml.safe_dump(payload, sort_keys=False)


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie has ended: only its parent has not collected it yet
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return False
