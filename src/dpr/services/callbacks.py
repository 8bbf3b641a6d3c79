"""What each subscriber URI is told, and when (the standard's ``callback`` class)."""

from __future__ import annotations

import msgspec
from msgspec.structs import replace

from dpr.domain import ogc
from dpr.domain.execute import ExecuteRequest, Subscriber
from dpr.domain.job import Job
from dpr.domain.process import ProcessDescription
from dpr.domain.status import JobStatus
from dpr.ports.notifier import Notifier


async def check_subscriber(notifier: Notifier | None, subscriber: Subscriber | None) -> None:
    """Refuse callback URIs the notifier may not call (raises ``InvalidInput``)."""
    if subscriber is None or notifier is None:
        return
    for url in (subscriber.successUri, subscriber.inProgressUri, subscriber.failedUri):
        if url:
            await notifier.check(url)


def with_callback_base(request: ExecuteRequest, base_url: str | None) -> ExecuteRequest:
    """The request to store: with the address its callbacks' links start with, when it has a
    subscriber (any instance that records the job's end then sends the same links)."""
    if request.subscriber is None or not base_url:
        return request
    return replace(request, callback_base=base_url)


def callback_for(old: Job, new: Job, process: ProcessDescription | None, base: str) -> tuple[str, bytes] | None:
    """The URI to call and the JSON to send after ``old`` became ``new``, if any.

    Success sends the results document, failure the statusInfo, and a running job its
    statusInfo whenever its status or progress changed.
    """
    sub = new.request.subscriber
    if sub is None:
        return None
    if new.status is JobStatus.SUCCESSFUL and sub.successUri:
        return sub.successUri, msgspec.json.encode(ogc.results_document(new, process, base))
    if new.status is JobStatus.FAILED and sub.failedUri:
        return sub.failedUri, msgspec.json.encode(ogc.status_info(new, base))
    changed = old.status != new.status or old.progress != new.progress
    if new.status is JobStatus.RUNNING and sub.inProgressUri and changed:
        return sub.inProgressUri, msgspec.json.encode(ogc.status_info(new, base))
    return None
