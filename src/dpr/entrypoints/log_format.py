"""How the server's own log is written: one record, one line, whatever a client sent."""

from __future__ import annotations

import logging

from dpr.domain.text import escape_controls

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class EscapingFormatter(logging.Formatter):
    """Escapes control characters in the message (request paths, inputs, processor output
    end up in messages); the traceback that may follow keeps its own lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_controls(record.message)
        return super().formatMessage(record)
