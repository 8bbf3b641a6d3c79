"""EOPF task tables: the JSON documents that describe a processor's units, inputs, ADFs,
outputs and pipelines (what rs-dpr-service answered on ``GET /dpr/processes/{id}``).

dpr ships the tables of the original catalogue in ``tasktables/``; a process definition names
one (``task_table: s1_l0``) or gives a file path.
"""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from dpr.adapters.processors.mockup import MockupProcessor

PACKAGE = "dpr.adapters.processors.tasktables"


def shipped() -> list[str]:
    """The names of the task tables dpr ships."""
    return sorted(p.name.removesuffix(".json") for p in resources.files(PACKAGE).iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=64)
def load_task_table(ref: str) -> dict[str, Any]:
    """A task table by shipped name (``s1_l0``) or file path; raises ``OSError`` or ``ValueError``."""
    if "/" in ref or ref.endswith(".json"):
        text = Path(ref).read_text(encoding="utf-8")
    else:
        source = resources.files(PACKAGE) / f"{ref}.json"
        if not source.is_file():
            raise ValueError(f"no task table named {ref!r} (dpr ships {', '.join(shipped())})")
        text = source.read_text(encoding="utf-8")
    table = json.loads(text)
    if not isinstance(table, dict) or "tasktable" not in table:
        raise ValueError(f"task table {ref!r} is not an EOPF task table (no 'tasktable' header)")
    return table


def unit_modules(table: dict[str, Any]) -> list[str]:
    """The Python modules the table's units come from, in order, without repeats."""
    modules = [u.get("module") for u in table.get("units", []) if isinstance(u, dict)]
    return list(dict.fromkeys(m for m in modules if isinstance(m, str) and m))


class MockupWithTaskTable(MockupProcessor):
    """The built-in ``mockup`` with the original mockup's task table (``task_table`` option,
    ``mockup`` by default), so ``/dpr/processes/mockup`` answers as rs-dpr-service did."""

    def task_table(self) -> dict[str, Any] | None:
        return load_task_table(str(self.options.get("task_table", "mockup")))
