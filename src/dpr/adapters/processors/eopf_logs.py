"""What ``eopf`` prints, as job log records with EOPF's own levels.

EOPF logs ``2026-11-27 21:54:02,221 : [INFO] eopf.triggering.workflow : run :: message`` on
stderr, which the runner would store at WARNING with a second timestamp inside. ``EopfLines``
turns such a line into the record (``INFO``, ``eopf.triggering.workflow: message``); a line that
continues a record (a multi-line message) keeps that record's level; a Python traceback (with
its chained ones and its exception's message) becomes one ERROR record, ended by the next EOPF
record; a Python warning is a WARNING; anything else keeps the level of the stream it came from.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

_RECORD = re.compile(
    r"^\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:[,.]\d+)?\s*:\s*\[(?P<level>[A-Z]+)\]\s*(?P<logger>[\w.]+)\s*:"
    r"(?:[^:]|:(?!:))*::\s?(?P<message>.*)$"
)
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
_TRACEBACK = "Traceback (most recent call last):"
_CHAINED = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
_PY_WARNING = re.compile(r"^\S.*:\d+: \w*Warning: ")


class Record(msgspec.Struct, frozen=True, kw_only=True):
    level: str
    line: str


def parse_record(line: str) -> Record | None:
    """The level and message of one EOPF log line (``logger: message``), else None."""
    found = _RECORD.match(line)
    if found is None or found["level"] not in _LEVELS:
        return None
    return Record(level=found["level"], line=f"{found['logger']}: {found['message']}")


class EopfLines:
    """One output stream of ``eopf`` turned into records, given to ``emit`` as they end.

    Args:
        emit: called with each finished record.
        default: the level of a line that is neither an EOPF record nor part of one.
    """

    def __init__(self, emit: Callable[[Record], None], default: str) -> None:
        self._emit, self._default = emit, default
        self._level: str | None = None  # the last EOPF record's level: its continuation lines keep it
        self._traceback: list[str] = []
        self._ended = False  # the traceback's exception line was seen: a chained one may follow

    def feed(self, line: str) -> None:
        if self._traceback and self._in_traceback(line):
            self._traceback.append(line)
            return
        self.flush()
        if line.startswith(_TRACEBACK):
            self._traceback = [line]
            return
        record = parse_record(line)
        if record is not None:
            self._level = record.level
            self._emit(record)
        elif _PY_WARNING.match(line):
            self._level = "WARNING"
            self._emit(Record(level="WARNING", line=line))
        else:
            self._emit(Record(level=self._level or self._default, line=line))

    def _in_traceback(self, line: str) -> bool:
        if not self._ended:  # frames and source are indented; the exception's line ends it
            self._ended = bool(line) and not line[0].isspace() and not line.startswith(_TRACEBACK)
            return True
        if line.startswith((_TRACEBACK, *_CHAINED)):  # a chained traceback goes on
            self._ended = False
            return True
        return parse_record(line) is None  # an exception's message may have more lines

    def flush(self) -> None:
        """Emit a traceback still being gathered (its end was not seen)."""
        if self._traceback:
            lines, self._traceback, self._ended = self._traceback, [], False
            while lines and not lines[-1].strip():
                lines.pop()
            self._level = "ERROR"
            self._emit(Record(level="ERROR", line="\n".join(lines)))
