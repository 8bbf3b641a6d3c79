"""What the service side remembers about one job it reports on, and how cluster errors read."""

from __future__ import annotations

from dataclasses import dataclass

from distributed import Future
from distributed.scheduler import KilledWorker

from dpr.domain.events import Failed, Succeeded

FINAL = (Succeeded, Failed)
FREE_RETRIES = 3  # re-runs of a task whose worker died before it started (they cost nothing)


@dataclass(slots=True)
class Watch:
    """One submitted or adopted job: its future and how far its reporting got."""

    future: Future
    retries: int = 0  # re-runs allowed after the worker running the job died
    started: bool = False  # this attempt reported ``Started``
    final_seen: bool = False  # an outcome was queued for the handler
    cancel_requested: bool = False
    deaths: int = 0  # workers that died while running this job
    free_retries: int = 0

    def may_retry(self, error: BaseException | None) -> bool:
        """Whether a task that erred with ``error`` should run again (and count it)."""
        if not isinstance(error, KilledWorker) or self.cancel_requested:
            return False
        if not self.started and self.free_retries < FREE_RETRIES:
            self.free_retries += 1
            return True
        self.deaths += 1
        return self.deaths <= self.retries


def failure_of(error: BaseException | None, watch: Watch) -> str:
    """A message for the caller about why the cluster could not finish the job."""
    if isinstance(error, KilledWorker):
        allowed = f"{watch.retries} retr{'y' if watch.retries == 1 else 'ies'}"
        return f"the worker running this job died ({max(watch.deaths, 1)} time(s); the process allows {allowed})"
    if error is None:
        return "the cluster lost this job"
    return f"the cluster could not run this job: {type(error).__name__}: {error}"
