"""http(s) locations on the worker (issue 14, section 2, DNS rebinding): a location checked at
submission is resolved again when the run fetches it. The run checks it again, and its own
connections go only to addresses checked as they connect, so a name that answers a public
address at submission and a loopback one later never reaches the loopback peer."""

from __future__ import annotations

import socket

import pytest

from dpr.adapters.location_policy import PolicyLocationGuard
from dpr.adapters.processors import eopf_storage as storage
from dpr.adapters.processors.eopf_locations import check_input
from dpr.domain.errors import ProcessorError
from dpr.domain.locations import LocationPolicy, LocationRules
from tests.integration.receiver import Receiver, receiver

HOST = "rebind.example"


@pytest.fixture
def peer():
    """The loopback peer a rebinding name points to, serving a configuration folder."""
    with receiver() as peer:
        peer.files["/config/"] = ("text/html", b'<a href="payload.yaml">payload.yaml</a>')
        peer.files["/config/payload.yaml"] = ("text/plain", b"workflow: []\n")
        yield peer


@pytest.fixture
def answers(monkeypatch):
    """``HOST`` resolves to a public address the first time, to loopback every time after."""
    real, count = socket.getaddrinfo, {"n": 0}

    def rebinding(host, port, *args, **kwargs):
        if (host.decode() if isinstance(host, bytes) else host) != HOST:  # some callers pass bytes
            return real(host, port, *args, **kwargs)
        count["n"] += 1
        address = "1.1.1.1" if count["n"] == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    return count


def url_of(peer: Receiver, host: str = HOST) -> str:
    return f"http://{host}:{peer.url.rsplit(':', 1)[1]}/config/"


async def test_a_location_checked_at_submission_is_checked_again_on_the_worker(peer, answers):
    location = url_of(peer)
    policy = LocationPolicy(rules=(LocationRules(allow=(location,)),))
    await PolicyLocationGuard(policy.rules[0]).check("eopf", "s3_config_dir", location)  # public: allowed
    with pytest.raises(ProcessorError, match="s3_config_dir.*internal address"):
        check_input(policy, "s3_config_dir", location)  # the worker: loopback now
    assert answers["n"] == 2 and peer.gets == []


def test_the_worker_s_fetch_connects_only_to_addresses_it_checked(peer, answers, tmp_path):
    answers["n"] = 1  # past the check: every answer is loopback from now on
    with pytest.raises(ProcessorError, match="cannot fetch"):
        storage.fetch_folder(url_of(peer), tmp_path / "a", {})
    with pytest.raises(ProcessorError, match="cannot fetch"):
        storage.fetch_folder(url_of(peer, "127.0.0.1"), tmp_path / "b", {})  # an address literal
    with pytest.raises(ProcessorError, match="cannot upload"):
        (tmp_path / "reports").mkdir()
        (tmp_path / "reports" / "r.log").write_text("report")
        storage.upload_folder(tmp_path / "reports", url_of(peer), {})
    assert peer.gets == [] and peer.posts == []


def test_with_internal_hosts_allowed_the_same_fetch_reaches_the_peer(peer, answers, tmp_path):
    """The control: the peer serves the folder to a fetch that may go inside."""
    storage.fetch_folder(url_of(peer, "127.0.0.1"), tmp_path, {}, max_bytes=2**20, allow_internal=True)
    assert (tmp_path / "payload.yaml").read_text() == "workflow: []\n"
    assert peer.gets
