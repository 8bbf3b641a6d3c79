"""Job statuses and the one table of moves between them."""

from __future__ import annotations

from enum import StrEnum


class JobStatus(StrEnum):
    """The five statuses of OGC API - Processes (``statusCode.yaml``)."""

    ACCEPTED = "accepted"
    RUNNING = "running"
    SUCCESSFUL = "successful"
    FAILED = "failed"
    DISMISSED = "dismissed"

    @property
    def is_terminal(self) -> bool:
        return not TRANSITIONS[self]


TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.ACCEPTED: frozenset({JobStatus.RUNNING, JobStatus.FAILED, JobStatus.DISMISSED}),
    JobStatus.RUNNING: frozenset({JobStatus.SUCCESSFUL, JobStatus.FAILED, JobStatus.DISMISSED}),
    JobStatus.SUCCESSFUL: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.DISMISSED: frozenset(),
}

TERMINAL: frozenset[JobStatus] = frozenset(s for s, targets in TRANSITIONS.items() if not targets)
ACTIVE: frozenset[JobStatus] = frozenset(JobStatus) - TERMINAL


def can_move(current: JobStatus, target: JobStatus) -> bool:
    """Whether the transition table allows ``current -> target``."""
    return target in TRANSITIONS[current]
