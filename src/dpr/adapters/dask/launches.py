"""Sending job tasks to the scheduler in bursts: one ``client.map`` per burst of submissions.

A ``client.submit`` per job costs the scheduler one graph update per job; under load that was a
sixth of the service process's time (the embedded scheduler shares it). Submissions that arrive
while one burst is being sent go together in the next (group commit), so at rest a job is sent
at once, alone. Each task is watched as soon as it is sent, even if its submitter stopped waiting.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from distributed import Future

from dpr.adapters.batching import GroupCommit
from dpr.adapters.dask.tracking import JobTracker
from dpr.adapters.dask.wire import task_key
from dpr.adapters.dask.worker_side import dask_task


@dataclass(slots=True)
class Launch:
    job_id: str
    spec: bytes  # the encoded ``TaskSpec``
    retries: int
    future: Future | None = None  # once sent


class Launches:
    """The tasks of one client's cluster, sent in bursts and handed to its ``JobTracker``."""

    def __init__(self, jobs: JobTracker) -> None:
        self._jobs = jobs
        self._batch: GroupCommit[Launch] = GroupCommit(self._send, name="dask-submit")

    async def submit(self, job_id: str, spec: bytes, retries: int) -> Future:
        """Send the job's task (keyed ``dpr-job-<job id>``) and watch it; its future. Raises
        ``OSError`` or ``RuntimeError`` when the client cannot send it."""
        launch = Launch(job_id=job_id, spec=spec, retries=retries)
        await self._batch.submit(launch)
        assert launch.future is not None
        return launch.future

    async def drained(self) -> None:
        await self._batch.drained()

    async def _send(self, launches: list[Launch]) -> list[BaseException | None]:
        """One ``client.map`` per retry budget among ``launches``; each one's outcome."""
        by_retries: defaultdict[int, list[Launch]] = defaultdict(list)
        for launch in launches:
            by_retries[launch.retries].append(launch)
        failed: dict[str, BaseException] = {}
        for retries, group in by_retries.items():
            try:
                self._map(group, retries)
            except (OSError, RuntimeError) as error:  # the client is closed or lost
                failed.update((x.job_id, error) for x in group)
        return [failed.get(x.job_id) for x in launches]

    def _map(self, group: list[Launch], retries: int) -> None:
        keys = [task_key(x.job_id) for x in group]
        client = self._jobs.calls.client
        futures = client.map(dask_task, [x.spec for x in group], key=keys, pure=False, retries=retries)
        for launch, future in zip(group, futures, strict=True):
            launch.future = future
            self._jobs.watch(launch.job_id, future, retries)
