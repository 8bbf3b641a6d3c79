"""Text from clients and processors made safe to show on one line of a log or a terminal."""

from __future__ import annotations

import re

_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _NAMED.get(char) or (f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def escape_controls(text: str) -> str:
    """``text`` with control characters written as escapes (``\\n``, ``\\x1b``): a newline
    cannot start a forged log line, nor an ESC sequence rewrite a terminal. Tabs stay."""
    return _CONTROLS.sub(_escape, text)
