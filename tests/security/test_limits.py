"""Resource limits a shared service needs (issue 14, section 3), against real servers: a bound
on outstanding jobs by default, and ``Prefer: wait`` never holding a request past the server's
own bound."""

from __future__ import annotations

import time

import httpx

from tests.integration.server import running_server

SLOW = {"inputs": {"duration": 60}}


def test_outstanding_jobs_are_bounded_by_default():
    with running_server("--ephemeral") as url, httpx.Client(base_url=url, timeout=30) as client:
        answers = [
            client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": "respond-async"}).status_code
            for _ in range(40)
        ]
        assert answers.count(201) == 32 and answers[32:] == [429] * 8
        refused = client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": "respond-async"})
        assert refused.status_code == 429 and "retry-after" in refused.headers


def test_prefer_wait_is_clamped_to_the_servers_sync_timeout():
    with running_server("--ephemeral", env={"DPR_LIMITS_SYNC_TIMEOUT": "1"}) as url:
        with httpx.Client(base_url=url, timeout=30) as client:
            for wait in ("inf", "100000"):
                started = time.monotonic()
                answer = client.post("/processes/mockup/execution", json=SLOW, headers={"Prefer": f"wait={wait}"})
                assert time.monotonic() - started < 10
                assert answer.status_code == 201 and answer.headers["preference-applied"] == "wait=1"
