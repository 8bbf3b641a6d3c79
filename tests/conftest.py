"""Shared test set-up: each tier's folder marks its tests, so `-m unit` and friends work."""

from __future__ import annotations

import importlib
import os
import runpy
import sys
from pathlib import Path

import pytest
from hypothesis import settings

TIERS = ("unit", "contract", "api", "integration", "security")
SITE = Path(__file__).parent / "site"

# jsonschema's optional format checkers (rfc3987_syntax for "iri" builds a grammar: 2 s of CPU)
# come only with the test tools; dpr as `make run` installs it has none of them, so tests check
# as production does, here and (through tests/site/sitecustomize.py on PYTHONPATH) in every
# Python process they start.
runpy.run_path(str(SITE / "sitecustomize.py"))


def _import_without(absent: tuple[str, ...], module: str) -> None:
    """Import ``module`` as if the ``absent`` packages were not installed, leaving them importable."""
    saved = {name: sys.modules.get(name) for name in absent}
    sys.modules.update(dict.fromkeys(absent))
    try:
        importlib.import_module(module)
    finally:
        for name, found in saved.items():
            if found is None:
                del sys.modules[name]
            else:
                sys.modules[name] = found


# dependency_injector looks for pydantic-settings when imported (for Configuration.from_pydantic,
# which dpr does not use). dpr as `make run` installs it has it not; the test tools bring it
# (openapi-spec-validator), and importing it costs 0.1 s: the container is loaded as production
# loads it, and pydantic-settings stays importable for those tools.
_import_without(("pydantic_settings",), "dependency_injector.providers")

# Property tests: a quick profile for local loops (`make test-fast`, a bare pytest), a thorough
# one for `make test` and CI. DPR_HYPOTHESIS_PROFILE chooses.
settings.register_profile("quick", max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("DPR_HYPOTHESIS_PROFILE", "quick"))

os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
