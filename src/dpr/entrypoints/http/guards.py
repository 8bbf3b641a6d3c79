"""Checks every request passes before its handler runs."""

from __future__ import annotations

from litestar import Request

from dpr.domain.errors import InvalidParameter


async def refuse_nul_bytes(request: Request) -> None:
    """No id, process id, cursor or filter holds a NUL character, and PostgreSQL refuses one
    in any text it is asked to compare: a 400 here rather than a 500 from the database."""
    if "\x00" in request.scope["path"]:
        raise InvalidParameter("path", "contains a NUL character")
    if b"%00" in request.scope["query_string"] or "\x00" in request.scope["query_string"].decode("latin-1"):
        raise InvalidParameter("query", "contains a NUL character")
