"""The few errors the domain raises.

Every error keeps its structured fields in ``args`` (so ``pickle`` rebuilds it: Dask ships
errors between processes) and has a readable ``str``.
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of every error dpr's core raises on purpose."""

    def __str__(self) -> str:
        return self.describe()

    def describe(self) -> str:
        return self.__class__.__name__


class NoSuchProcess(DomainError):
    """The process id names no process this server offers."""

    def __init__(self, process_id: str) -> None:
        super().__init__(process_id)
        self.process_id = process_id

    def describe(self) -> str:
        return f"no process with id {self.process_id!r}"


class NoSuchJob(DomainError):
    """The job id names no job (never created, or removed)."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id

    def describe(self) -> str:
        return f"no job with id {self.job_id!r}"


class NoSuchOutput(DomainError):
    """The job has no output of that id."""

    def __init__(self, job_id: str, output: str) -> None:
        super().__init__(job_id, output)
        self.job_id, self.output = job_id, output

    def describe(self) -> str:
        return f"job {self.job_id!r} has no output {self.output!r}"


class InvalidTransition(DomainError):
    """A job was asked to move to a status its current status does not allow."""

    def __init__(self, job_id: str, current: str, target: str) -> None:
        super().__init__(job_id, current, target)
        self.job_id, self.current, self.target = job_id, current, target

    def describe(self) -> str:
        return f"job {self.job_id!r} cannot go from {self.current!r} to {self.target!r}"


class ConcurrentUpdate(DomainError):
    """A compare-and-set update found another version than the one it expected."""

    def __init__(self, job_id: str, expected: int, found: int | None) -> None:
        super().__init__(job_id, expected, found)
        self.job_id, self.expected, self.found = job_id, expected, found

    def describe(self) -> str:
        return f"job {self.job_id!r} changed concurrently (expected version {self.expected}, found {self.found})"


class ResultNotReady(DomainError):
    """Results were asked for a job that has not finished successfully yet."""

    def __init__(self, job_id: str, status: str) -> None:
        super().__init__(job_id, status)
        self.job_id, self.status = job_id, status

    def describe(self) -> str:
        return f"job {self.job_id!r} is {self.status}: its results are not ready"


class JobFailedError(DomainError):
    """Results were asked for a job that failed or was dismissed."""

    def __init__(self, job_id: str, status: str, reason: str) -> None:
        super().__init__(job_id, status, reason)
        self.job_id, self.status, self.reason = job_id, status, reason

    def describe(self) -> str:
        return f"job {self.job_id!r} {self.status}: {self.reason}"


class InvalidInput(DomainError):
    """An execute request is malformed, or an input value breaks the process's schema."""

    def __init__(self, reason: str, input_id: str | None = None) -> None:
        super().__init__(reason, input_id)
        self.reason, self.input_id = reason, input_id

    def describe(self) -> str:
        if self.input_id is None:
            return self.reason
        return f"input {self.input_id!r}: {self.reason}"


class InvalidParameter(DomainError):
    """A query parameter (limit, datetime, status...) has a value the API cannot accept."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(name, reason)
        self.name, self.reason = name, reason

    def describe(self) -> str:
        return f"parameter {self.name!r}: {self.reason}"


class NotAllowed(DomainError):
    """The request is well formed but the process or job does not allow it."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def describe(self) -> str:
        return self.reason


class Overloaded(DomainError):
    """Too many outstanding jobs: the caller should try again later."""

    def __init__(self, reason: str, retry_after: int) -> None:
        super().__init__(reason, retry_after)
        self.reason, self.retry_after = reason, retry_after

    def describe(self) -> str:
        return self.reason


class Unavailable(DomainError):
    """A backing service (database, cluster) cannot be reached right now."""

    def __init__(self, what: str, reason: str, retry_after: int = 5) -> None:
        super().__init__(what, reason, retry_after)
        self.what, self.reason, self.retry_after = what, reason, retry_after

    def describe(self) -> str:
        return f"{self.what} unavailable: {self.reason}"


class NoSuchKey(DomainError):
    """The id names no API key."""

    def __init__(self, key_id: str) -> None:
        super().__init__(key_id)
        self.key_id = key_id

    def describe(self) -> str:
        return f"no API key with id {self.key_id!r}"


class BadCredentials(DomainError):
    """Credentials were given but are not valid (unknown, expired or revoked key, bad token).

    ``reason`` is safe to show to the caller: it never repeats the credentials.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def describe(self) -> str:
        return self.reason


class Forbidden(DomainError):
    """The caller is known but may not do this (run a process reserved to other roles)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def describe(self) -> str:
        return self.reason


class ProcessorError(DomainError):
    """A processor failed; ``reason`` is safe to show to the caller."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def describe(self) -> str:
        return self.reason


class Cancelled(DomainError):
    """A processor noticed its job was dismissed and stopped."""

    def __init__(self, job_id: str) -> None:
        super().__init__(job_id)
        self.job_id = job_id

    def describe(self) -> str:
        return f"job {self.job_id!r} was cancelled"
