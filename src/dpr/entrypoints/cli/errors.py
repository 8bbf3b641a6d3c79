"""What can go wrong in a command, and the exit code each kind of failure ends with."""

from __future__ import annotations

from enum import IntEnum


class Exit(IntEnum):
    """The exit codes of every ``dpr`` command (documented in ``docs/cli.md`` and ``--help``)."""

    OK = 0
    JOB_FAILED = 1  # the job ran and failed, or was dismissed
    USAGE = 2  # the command line or the configuration is wrong (click's own code)
    UNAVAILABLE = 3  # no answer, a server error (5xx) or a busy server (429): retry later
    REFUSED = 4  # the server refused the request (4xx): fix the request
    INTERRUPTED = 130  # Ctrl-C
    BUG = 70  # an unexpected failure of the command itself (sysexits' EX_SOFTWARE)


class CliError(Exception):
    """A failure told as one line on stderr, ending the command with ``exit_code``.

    Args:
        message: what went wrong, and if possible what to do about it.
        exit_code: overrides the class's code.
    """

    exit_code: Exit = Exit.REFUSED

    def __init__(self, message: str, exit_code: Exit | None = None) -> None:
        super().__init__(message)
        self.message = message
        if exit_code is not None:
            self.exit_code = exit_code


class UsageError(CliError):
    """The command line, a file it names, or the configuration cannot be used."""

    exit_code = Exit.USAGE


class JobNotSuccessful(CliError):
    """The job ended failed or dismissed."""

    exit_code = Exit.JOB_FAILED
