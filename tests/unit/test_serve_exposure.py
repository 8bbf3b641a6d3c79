"""``dpr serve`` keeps anonymous access on loopback unless the operator says otherwise."""

from __future__ import annotations

import msgspec
import pytest

from dpr.adapters.settings import AuthSettings, ServerSettings, Settings
from dpr.entrypoints.cli.serve import exposure_warning


def on(host: str, **auth: object) -> Settings:
    return Settings(server=ServerSettings(host=host), auth=msgspec.convert(auth, AuthSettings))


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_anonymous_access_on_loopback_needs_nothing(host: str) -> None:
    assert exposure_warning(on(host)) is None


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.4", "dpr.example"])
def test_anonymous_access_beyond_loopback_is_refused_with_the_way_out(host: str) -> None:
    with pytest.raises(ValueError, match=r"refusing anonymous access.*DPR_AUTH_METHODS.*--allow-anonymous"):
        exposure_warning(on(host))


def test_anonymous_access_beyond_loopback_when_allowed_is_a_warning() -> None:
    warning = exposure_warning(on("0.0.0.0", allow_anonymous_remote=True))
    assert warning is not None and "anonymous access on 0.0.0.0" in warning


def test_authenticated_access_may_listen_anywhere() -> None:
    assert exposure_warning(on("0.0.0.0", methods=["api_key"])) is None
