"""The outstanding jobs (``accepted`` or ``running``) counted at once, by process and owner."""

from __future__ import annotations

from collections.abc import Iterable

import msgspec


class ActiveCounts(msgspec.Struct, frozen=True):
    """How many jobs are outstanding per ``(process id, owner)`` pair (``None``: no owner).

    Admission compares one such snapshot with all its limits (overall, per process, per owner),
    so a submission costs one read of the store however many limits are set.
    """

    by_process_owner: dict[tuple[str, str | None], int] = msgspec.field(default_factory=dict)

    @classmethod
    def of(cls, pairs: Iterable[tuple[str, str | None]]) -> ActiveCounts:
        """Count the ``(process id, owner)`` pairs of the outstanding jobs."""
        counts: dict[tuple[str, str | None], int] = {}
        for pair in pairs:
            counts[pair] = counts.get(pair, 0) + 1
        return cls(counts)

    @property
    def total(self) -> int:
        return sum(self.by_process_owner.values())

    def of_process(self, process_id: str) -> int:
        return sum(n for (process, _), n in self.by_process_owner.items() if process == process_id)

    def of_owner(self, owner: str) -> int:
        return sum(n for (_, who), n in self.by_process_owner.items() if who == owner)
