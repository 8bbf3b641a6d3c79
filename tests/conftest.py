"""Shared test set-up: each tier's folder marks its tests, so `-m unit` and friends work."""

from __future__ import annotations

from pathlib import Path

import pytest

TIERS = ("unit", "contract", "api", "integration", "security")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        parts = Path(str(item.fspath)).parts
        for tier in TIERS:
            if tier in parts:
                item.add_marker(getattr(pytest.mark, tier))
