"""href inputs and callbacks against a real HTTP peer on 127.0.0.1, and the internal-URL guard."""

from __future__ import annotations

import asyncio
import json

import msgspec
import pytest

from dpr.adapters.fake_executor import FakeExecutor
from dpr.adapters.http_outbound import HttpNotifier, HttpReferenceFetcher
from dpr.adapters.url_guard import check_url
from dpr.domain.errors import InvalidInput
from dpr.domain.mode import Preference
from dpr.domain.status import JobStatus
from tests.builders import execute_body
from tests.integration.receiver import receiver
from tests.unit.conftest import build_service


@pytest.fixture
def peer():
    with receiver() as r:
        yield r


@pytest.fixture
async def open_service():
    # Real time and threads: the jobs' callbacks go to a real HTTP receiver while they run.
    service = build_service(
        executor=FakeExecutor(max_workers=2),
        fetcher=HttpReferenceFetcher(allow_internal=True, max_bytes=1000),
        notifier=HttpNotifier(allow_internal=True, attempts=3, backoff=0.05),
    )
    await service.start()
    yield service
    await service.close()


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/x",
        "http://localhost:8080/",
        "http://10.1.2.3/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data",
        "http://192.168.0.1/",
    ],
)
async def test_internal_addresses_are_refused_unless_allowed(url):
    with pytest.raises(InvalidInput, match="internal address"):
        await check_url(url, allow_internal=False)
    await check_url(url, allow_internal=True)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/x", "gopher://x", "/relative", "http://"])
async def test_non_http_urls_are_refused_always(url):
    with pytest.raises(InvalidInput, match="absolute http or https"):
        await check_url(url, allow_internal=True)


async def test_an_href_input_is_fetched_validated_and_handed_to_the_processor(open_service, peer):
    peer.files["/hello.txt"] = ("text/plain", b"hello from afar")
    run = await open_service.submission.execute(
        "echo", execute_body({"inputs": {"echo": {"href": peer.url + "/redirect/hello.txt"}}})
    )
    assert run.job.status is JobStatus.SUCCESSFUL and run.job.results["echo"] == "hello from afar"
    assert run.job.request.inputs["echo"] == {
        "href": peer.url + "/redirect/hello.txt"
    }  # the record keeps the reference


async def test_a_referenced_value_that_breaks_the_schema_is_refused(open_service, peer):
    peer.files["/n.json"] = ("application/json", b'"not a number"')
    with pytest.raises(InvalidInput, match="input 'number'"):
        await open_service.submission.execute(
            "echo", execute_body({"inputs": {"echo": "x", "number": {"href": peer.url + "/n.json"}}})
        )


async def test_too_large_missing_or_unreachable_references_are_clear_errors(open_service, peer):
    peer.files["/big.txt"] = ("text/plain", b"x" * 5000)
    with pytest.raises(InvalidInput, match="larger than 1000 bytes"):
        await open_service.submission.execute(
            "echo", execute_body({"inputs": {"echo": {"href": peer.url + "/big.txt"}}})
        )
    with pytest.raises(InvalidInput, match="HTTP 404"):
        await open_service.submission.execute(
            "echo", execute_body({"inputs": {"echo": {"href": peer.url + "/missing"}}})
        )
    with pytest.raises(InvalidInput, match="cannot be read"):
        await open_service.submission.execute(
            "echo", execute_body({"inputs": {"echo": {"href": "http://127.0.0.1:9/nothing"}}})
        )


async def test_callbacks_report_progress_success_and_failure_with_retries(open_service, peer):
    peer.fail_first["/done"] = 2  # the subscriber is briefly down: dpr retries
    subscriber = {
        "successUri": peer.url + "/done",
        "inProgressUri": peer.url + "/progress",
        "failedUri": peer.url + "/failed",
    }
    run = await open_service.submission.execute(
        "mockup",
        execute_body({"inputs": {"duration": 0.3}, "subscriber": subscriber, "response": "document"}),
        Preference(respond_async=True),
        base_url="http://dpr.example",
    )
    (success,) = await asyncio.to_thread(peer.wait_posts, "/done", 1)
    assert json.loads(success)["products"][0]["type"] == "S1SEWRAW"
    progress = [json.loads(b) for b in await asyncio.to_thread(peer.wait_posts, "/progress", 10)]
    assert progress[0]["status"] == "running" and progress[-1]["progress"] > progress[0]["progress"]
    assert progress[0]["links"][0]["href"] == f"http://dpr.example/jobs/{run.job.job_id}"

    failing = await open_service.submission.execute(
        "mockup",
        execute_body({"inputs": {"duration": 0.1, "fail": True}, "subscriber": subscriber}),
        Preference(respond_async=True),
    )
    (failed,) = await asyncio.to_thread(peer.wait_posts, "/failed", 1)
    assert json.loads(failed)["jobID"] == failing.job.job_id and json.loads(failed)["status"] == "failed"


async def test_callbacks_to_internal_addresses_are_refused_at_submission(peer):
    service = build_service(notifier=HttpNotifier(allow_internal=False))
    await service.start()
    try:
        with pytest.raises(InvalidInput, match="internal address"):
            await service.submission.execute(
                "echo", execute_body({"inputs": {"echo": "x"}, "subscriber": {"successUri": peer.url + "/done"}})
            )
    finally:
        await service.close()


async def test_a_subscriber_that_stays_down_does_not_hold_up_the_job(open_service):
    run = await open_service.submission.execute(
        "echo", execute_body({"inputs": {"echo": "x"}, "subscriber": {"successUri": "http://127.0.0.1:9/never"}})
    )
    assert run.job.status is JobStatus.SUCCESSFUL
    assert msgspec.json.encode(run.job)  # the job record is intact
