"""The ``Prefer`` header (RFC 7240) read into a ``Preference``, and ``Preference-Applied`` written
from what the execution did."""

from __future__ import annotations

from dpr.domain.mode import Preference
from dpr.services.submission import Execution


def parse_prefer(header: str | None) -> Preference:
    """Parse leniently: unknown tokens (OWSLib's ``respond-sync``) and bad values are ignored."""
    respond_async, wait, ret = False, None, None
    for token in (header or "").replace(";", ",").split(","):
        name, _, value = token.strip().partition("=")
        name, value = name.strip().lower(), value.strip().strip('"')
        if name == "respond-async":
            respond_async = True
        elif name == "wait":
            try:
                wait = max(0.0, float(value))
            except ValueError:
                continue
        elif name == "return" and value in ("minimal", "representation"):
            ret = value
    return Preference(respond_async=respond_async, wait=wait, return_=ret)


def preference_applied(run: Execution) -> str | None:
    """The ``Preference-Applied`` header for ``run``: the preferences it honoured, if any."""
    applied = ["respond-async"] if run.respond_async_applied else []
    if run.wait_applied is not None:
        applied.append(f"wait={run.wait_applied:g}")
    return ", ".join(applied) or None
