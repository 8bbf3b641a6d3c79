"""Shared test set-up: each tier's folder marks its tests, so `-m unit` and friends work."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import settings

TIERS = ("unit", "contract", "api", "integration", "security")

# jsonschema checks the "iri" formats with rfc3987_syntax when it is installed, and importing
# that builds a grammar (2 s of CPU). Only the test tools bring it (jupyterhub's
# jupyter-events); dpr as `make run` installs it has it not, so tests check as production does,
# here and (through tests/site/sitecustomize.py) in every Python process they start.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[assignment]
# Property tests: a quick profile for local loops (`make test-fast`, a bare pytest), a thorough
# one for `make test` and CI. DPR_HYPOTHESIS_PROFILE chooses.
settings.register_profile("quick", max_examples=40, deadline=None)
settings.register_profile("thorough", max_examples=300, deadline=None)
settings.load_profile(os.environ.get("DPR_HYPOTHESIS_PROFILE", "quick"))

SITE = Path(__file__).parent / "site"
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SITE), os.environ.get("PYTHONPATH")]))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
