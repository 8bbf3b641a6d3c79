"""A real ``dpr serve`` offering the EOPF processors on an EOPF stand-in environment: its
``python`` finds a module named ``eopf``, its ``eopf`` command prints what its working
directory holds. Enough to run the processors' input handling end to end without EOPF."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from tests.integration.server import running_server

EOPF_COMMAND = """#!/bin/sh
echo "eopf stand-in ran $*"
echo "working directory holds: $(ls -A | tr '\\n' ' ')"
"""


def stand_in_environment(where: Path) -> Path:
    """A folder shaped like an EOPF virtualenv; its ``bin/python``."""
    modules = where / "modules" / "eopf"
    (modules / "store").mkdir(parents=True)
    for module in ("__init__.py", "store/__init__.py", "store/convert.py"):
        (modules / module).write_text("")
    bin_dir = where / "venv" / "bin"
    bin_dir.mkdir(parents=True)
    python = bin_dir / "python"
    python.write_text(f'#!/bin/sh\nPYTHONPATH={modules.parent} exec {sys.executable} "$@"\n')
    (bin_dir / "eopf").write_text(EOPF_COMMAND)
    for script in (python, bin_dir / "eopf"):
        script.chmod(0o755)
    return python


@contextmanager
def eopf_server(where: Path, allow: list[str], narrow: list[str]) -> Iterator[str]:
    """The server's URL; ``allow`` is ``locations.allow``, ``narrow`` the locations of the
    process ``narrow``."""
    python = str(stand_in_environment(where))
    options = {"python": python, "dask": "none", "modules": [], "work_dir": str(where / "work")}
    config = {
        "storage": {"url": "memory://"},
        "executor": {"kind": "fake"},
        "locations": {"allow": allow},
        "processes": {
            "definitions": [
                {"id": "s1_l0", "processor": "dpr.adapters.processors.eopf:EopfProcessor", "options": options},
                {
                    "id": "narrow",
                    "processor": "dpr.adapters.processors.eopf:EopfProcessor",
                    "options": options,
                    "locations": narrow,
                },
                {
                    "id": "conv_safe_zarr",
                    "processor": "dpr.adapters.processors.eopf_convert:EopfConvertProcessor",
                    "options": {"python": python},
                },
            ]
        },
    }
    path = where / "dpr.yaml"
    path.write_text(yaml.safe_dump(config))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DPR_")}
    with running_server("--config", str(path), env=env) as url:
        yield url
