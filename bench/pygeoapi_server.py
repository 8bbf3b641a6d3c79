"""A pygeoapi 0.21 server to compare dpr with: its own venv, its PostgreSQL job manager, gunicorn+gevent.

The venv lives in ``.cache/pygeoapi-0.21`` (git-ignored) and is made once with the same Python
that runs the benchmark; it is not the project's venv. The job table is pygeoapi's
``PostgreSQLManager`` layout (its repository ships it as a SQL dump, not in the wheel: the
columns its manager writes and reads are the ones below). The one process offered is pygeoapi's
own ``hello-world``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.integration.server import free_port, stop, wait_for_port

ROOT = Path(__file__).resolve().parents[1]
VENV = ROOT / ".cache" / "pygeoapi-0.21"
# psycopg2 and the SQL provider's imports for its PostgreSQL manager; SQLAlchemy below 2.1, which
# pygeoapi 0.21 was released against.
REQUIREMENTS = [
    "pygeoapi==0.21.*",
    "gunicorn",
    "gevent",
    *("psycopg2-binary", "sqlalchemy<2.1", "geoalchemy2", "pygeofilter", "pyproj", "shapely"),
]

JOBS_TABLE = """
CREATE TABLE jobs (
    type varchar NOT NULL DEFAULT 'process',
    process_id varchar NOT NULL,
    identifier varchar PRIMARY KEY,
    status varchar NOT NULL,
    message varchar,
    progress integer NOT NULL,
    created timestamp,
    started timestamp,
    finished timestamp,
    updated timestamp,
    location varchar,
    mimetype varchar
)
"""

HELLO = '{"inputs": {"name": "bench", "message": "hello"}}'


def ensure_venv() -> Path:
    """The venv's bin folder, after installing pygeoapi 0.21 there unless it is already."""
    bin_dir = VENV / "bin"
    if not (bin_dir / "gunicorn").exists() or not (VENV / ".complete").exists():
        print(f"installing pygeoapi 0.21 into {VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
        subprocess.run([str(bin_dir / "pip"), "install", "-q", *REQUIREMENTS], check=True)
        (VENV / ".complete").touch()
    return bin_dir


def config(port: int, database_url: str, output_dir: Path) -> dict[str, object]:
    """pygeoapi's configuration: the hello-world process and the PostgreSQL manager."""
    return {
        "server": {
            "bind": {"host": "127.0.0.1", "port": port},
            "url": f"http://127.0.0.1:{port}",
            "mimetype": "application/json; charset=UTF-8",
            "encoding": "utf-8",
            "languages": ["en-US"],
            "limits": {"default_items": 10, "max_items": 50},
            "map": {"url": "https://tile.openstreetmap.org/{z}/{x}/{y}.png", "attribution": "OpenStreetMap"},
            "manager": {"name": "PostgreSQL", "connection": database_url, "output_dir": str(output_dir)},
        },
        "logging": {"level": "ERROR"},
        "metadata": {
            "identification": {
                "title": "pygeoapi for the dpr benchmark",
                "description": "pygeoapi for the dpr benchmark",
                "keywords": ["bench"],
                "url": "https://example.org",
                "terms_of_service": "https://example.org",
            },
            "license": {"name": "CC-BY 4.0", "url": "https://creativecommons.org/licenses/by/4.0/"},
            "provider": {"name": "bench", "url": "https://example.org"},
            "contact": {
                "name": "bench",
                **dict.fromkeys(("position", "address", "city", "stateorprovince", "postalcode", "country"), ""),
                **dict.fromkeys(("phone", "fax", "email", "url", "hours", "instructions", "role"), ""),
            },
        },
        "resources": {"hello-world": {"type": "process", "processor": {"name": "HelloWorld"}}},
    }


@contextmanager
def running_pygeoapi(database_url: str, work: Path, workers: int = 2) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """pygeoapi under gunicorn (gevent workers) on a free port: yields its base URL and process.

    ``database_url`` is a ``postgresql://`` URL of a database holding ``JOBS_TABLE``.
    """
    bin_dir = ensure_venv()
    port = free_port()
    output_dir = work / "outputs"
    output_dir.mkdir(parents=True, exist_ok=True)
    config_path, openapi_path = work / "pygeoapi.yml", work / "openapi.yml"
    config_path.write_text(yaml.safe_dump(config(port, database_url, output_dir)))
    env = {**os.environ, "PYGEOAPI_CONFIG": str(config_path), "PYGEOAPI_OPENAPI": str(openapi_path)}
    env.pop("PYTHONPATH", None)
    generate = [str(bin_dir / "pygeoapi"), "openapi", "generate", str(config_path), "--output-file", str(openapi_path)]
    made = subprocess.run(generate, env=env, capture_output=True, text=True)
    if made.returncode != 0:
        raise RuntimeError(f"pygeoapi openapi generate failed:\n{made.stdout}{made.stderr}")
    log_path = work / "gunicorn.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [
                str(bin_dir / "gunicorn"),
                "--workers",
                str(workers),
                "--worker-class",
                "gevent",
                "--bind",
                f"127.0.0.1:{port}",
                "pygeoapi.flask_app:APP",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=work,
        )
    try:
        wait_for_port(port, timeout=120)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        stop(proc)
