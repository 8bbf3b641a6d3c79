"""Deciding whether a process may read or write a location a request names."""

from __future__ import annotations

from abc import ABC, abstractmethod


class LocationGuard(ABC):
    @abstractmethod
    async def check(self, process_id: str, field: str, location: str) -> None:
        """Return when process ``process_id`` may use ``location`` (given in input ``field``).

        Raises ``InvalidInput`` naming ``field`` when the location is malformed, has a scheme
        or lies under no prefix this server (or this process) allows, resolves (after ``..``
        and symbolic links) outside its allowed root, or is an http(s) URL of an internal host
        while those are refused. Called at submission, before the job exists.
        """
