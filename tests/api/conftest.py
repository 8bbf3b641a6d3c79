"""The app through Litestar's test client, on in-memory adapters."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from litestar.testing import TestClient

from dpr.adapters.settings import ProcessSettings, Settings, ephemeral
from dpr.entrypoints.container import Container, build_container
from dpr.entrypoints.http.app import create_app
from tests import waiting
from tests.unit.conftest import DEFINITIONS


@pytest.fixture
def container() -> Container:
    """What the ``client`` app is built from: tests reach its stores through it."""
    return build_container(ephemeral(Settings(processes=ProcessSettings(definitions=DEFINITIONS))))


@pytest.fixture
def client(container: Container) -> Iterator[TestClient]:
    logging.getLogger("httpx").setLevel(logging.WARNING)
    with TestClient(create_app(container=container), base_url="http://dpr.test") as c:
        yield c


def wait_for(client: TestClient, url: str, *statuses: str, timeout: float = 30) -> dict:
    """The job document at ``url`` once its status is one of ``statuses``."""

    def reached() -> dict | None:
        doc = client.get(url).json()
        return doc if doc["status"] in statuses else None

    return waiting.wait_for(reached, timeout, f"{url} to be {' or '.join(statuses)}")
