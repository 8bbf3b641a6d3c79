"""Where jobs run."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence

from dpr.domain.events import AnyEvent
from dpr.domain.job import Job
from dpr.domain.run import WorkOrder

# Receives events in batches: those of one job in the order they happened, so a batch can be
# recorded in one write. Executors hand over what arrived meanwhile, up to a bound.
EventHandler = Callable[[Sequence[AnyEvent]], Awaitable[None]]


class Executor(ABC):
    """Runs work orders and reports what happens to them as events.

    Lifecycle: ``start(handler)`` once, then any number of ``submit``/``cancel``/``adopt``, then
    ``close()``. Events for one job arrive in order: ``Started``, any ``Progressed``/``Logged``,
    then exactly one of ``Succeeded`` or ``Failed``; a cancelled job may end with either, or
    with nothing at all. Events may arrive for jobs the handler no longer cares about.
    """

    @abstractmethod
    async def start(self, handler: EventHandler) -> None:
        """Connect and begin delivering events to ``handler``."""

    @abstractmethod
    async def submit(self, order: WorkOrder) -> str:
        """Queue the work and return an executor reference (kept in the job record).

        Returns once the work is queued, not when it starts. ``Started`` is emitted when a
        worker really begins computing.
        """

    def reference(self, order: WorkOrder) -> str | None:
        """The reference ``submit`` will return for ``order``, when it is known before
        submitting (the job is then stored with it in one write); ``None``, the default, when
        only ``submit`` can tell."""
        return None

    @abstractmethod
    async def cancel(self, job: Job) -> None:
        """Stop the job: drop it if queued, signal the processor if running. Idempotent;
        unknown jobs are ignored.

        Any instance may cancel any job, also one it neither submitted nor adopted: the job's
        record (its ``executor_ref``) says where it was placed. Raises ``Unavailable`` when that
        place cannot be reached."""

    @abstractmethod
    async def adopt(self, job: Job) -> bool:
        """After a restart: resume reporting on a job submitted earlier.

        Returns ``True`` if the executor still knows the job and will emit its remaining
        events, ``False`` if the job was lost (the caller then fails it).
        """

    @abstractmethod
    async def close(self) -> None:
        """Stop delivering events and release resources. Does not cancel remote jobs."""

    def dashboard_link(self) -> str | None:
        """A URL of the cluster's dashboard, when there is one."""
        return None

    @property
    def durable(self) -> bool:
        """Whether jobs outlive this process (a cluster of their own): on a clean stop they are
        handed over to another instance rather than waited for. False, the default."""
        return False

    def starting(self) -> str | None:
        """Why jobs submitted now would wait to run (the cluster is still starting, or failed to
        and is tried again); ``None``, the default, once they run."""
        return None

    async def started(self) -> None:
        """Return once ``starting()`` is ``None`` (at once, by default)."""
