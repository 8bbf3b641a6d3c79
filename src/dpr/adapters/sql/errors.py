"""Translation of database failures into ``Unavailable``, once, at the adapter boundary.

Connection errors can echo connection strings; nothing derived from them may carry the
password into a log line, so every text is redacted and a leaking cause is replaced.
"""

from __future__ import annotations

import re
import sys
from types import TracebackType
from urllib.parse import quote, quote_plus

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL

from dpr.domain.errors import DomainError, Unavailable

# What "the database cannot be reached" looks like through SQLAlchemy: the DBAPI's
# OperationalError (refused, reset, timed out, SQLite cannot open or is locked), a pool that
# gave no connection in time, or the socket error itself. (And psycopg's own errors, from reads
# through the driver itself: see ``is_unreachable``.)
UNREACHABLE: tuple[type[BaseException], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.TimeoutError,
    ConnectionError,
    TimeoutError,
)

_PASSWORD_OPTION = re.compile(r"(password\s*=\s*)('[^']*'|\"[^\"]*\"|\S+)", re.IGNORECASE)
_URL_CREDENTIALS = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")
_MAX_REASON = 300


class RedactedError(Exception):
    """Stands in for a driver error whose text contained a secret, with that text redacted."""


def describe_target(url: URL) -> str:
    """Where the database is, for messages: host, port and database, never the password."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite file {url.database or ':memory:'}"
    port = f":{url.port}" if url.port else ""
    return f"{url.get_backend_name()} at {url.host or 'localhost'}{port}/{url.database or ''}"


def redact(text: str, password: str | None) -> str:
    """``text`` with the password (raw or URL-quoted) and any ``password=``/URL credential hidden."""
    if password:
        for form in {password, quote(password, safe=""), quote_plus(password)}:
            text = text.replace(form, "***")
    text = _PASSWORD_OPTION.sub(r"\1***", text)
    return _URL_CREDENTIALS.sub(r"\1***@", text)


def is_unreachable(error: BaseException) -> bool:
    if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
        return True
    if isinstance(error, UNREACHABLE):
        return True
    # A psycopg error exists only once psycopg is imported: a SQLite server never loads it.
    psycopg = sys.modules.get("psycopg")
    return psycopg is not None and isinstance(error, (psycopg.OperationalError, psycopg.InterfaceError))


def driver_message(error: BaseException) -> str:
    """The first line of the driver's own message, without SQLAlchemy's SQL and link."""
    origin = error.orig if isinstance(error, sa_exc.DBAPIError) and error.orig is not None else error
    lines = [line.strip() for line in str(origin).splitlines() if line.strip()]
    return lines[0] if lines else type(origin).__name__


def chain_text(error: BaseException) -> str:
    """Every message in the error's cause/context chain, as a traceback would print them."""
    seen: set[int] = set()
    texts: list[str] = []
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        texts.append(f"{current!s} {current.args!r}")
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


class Boundary:
    """A context manager turning unreachable-database errors into ``Unavailable("database")``.

    Args:
        url: the engine's URL: names the target in messages and gives the password to redact.
    """

    def __init__(self, url: URL) -> None:
        self.target = describe_target(url)
        self._password = url.password if isinstance(url.password, str) else None

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if error is None or isinstance(error, DomainError) or not is_unreachable(error):
            return
        raise self.unavailable(error) from self.safe_cause(error)

    def unavailable(self, error: BaseException, prefix: str = "cannot reach") -> Unavailable:
        reason = redact(f"{prefix} {self.target}: {driver_message(error)}", self._password)
        return Unavailable("database", reason[:_MAX_REASON])

    def safe_cause(self, error: BaseException) -> BaseException:
        """``error`` itself when no secret shows in its chain, else a redacted stand-in."""
        text = chain_text(error)
        if redact(text, self._password) == text:
            return error
        return RedactedError(redact(str(error), self._password))
