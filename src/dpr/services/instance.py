"""Which instance this process is to the store: the id its lease and its new jobs carry."""

from __future__ import annotations

from collections.abc import Callable


class InstanceIds:
    """This process's instance id, and those it held before.

    An instance whose lease another instance took over (it stalled past the lease: a long
    pause, a partition) has lost the jobs that lease covered; it goes on serving under a new
    id (``renew``). Jobs still stored under one of its earlier ids were accepted after the
    take-over, so no other instance follows them: they remain this process's to record.

    Args:
        first: the id at start-up.
        new_id: makes the next id.
    """

    def __init__(self, first: str, new_id: Callable[[], str] | None = None) -> None:
        self.current = first
        self._new_id = new_id
        self._held = {first}

    def renew(self) -> str:
        """Give up the current id, whose lease was taken over, for a new one; returns the new id."""
        self.current = self._new_id() if self._new_id is not None else f"{self.current}+{len(self._held)}"
        self._held.add(self.current)
        return self.current

    def owns(self, owner: str | None) -> bool:
        """Whether this process records the events of a job stored with ``owner``: one of its
        ids, or none (a job stored before leases existed, or by a single-instance set-up)."""
        return owner is None or owner in self._held

    def __str__(self) -> str:
        return self.current
