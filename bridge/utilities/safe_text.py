"""How a value from a payload may appear in a reason, an answer or a log line.

Reasons are stored, logged and sent back to the sender, so they must not carry personal data:
a short, plainly harmless value (a currency code, a number, an id-like token) is quoted, since it
is what a user needs to fix a mapping; anything else is described by its type and size only.
The description never walks or prints the value: a deeply nested array or an integer of
thousands of digits is described as cheaply as a short one.
"""

from __future__ import annotations

import re
from typing import Any

_SAFE = re.compile(r"[A-Za-z0-9 _.:+-]{0,24}")
_LOG10_2 = 0.30102999566398120


def shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int):
        digits = _digits(value)
        return repr(value) if digits + (value < 0) <= 24 else f"a number of {digits} digits"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, str) and _SAFE.fullmatch(value):
        return repr(value)
    if isinstance(value, dict | list | tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__} of {len(str(value))} characters"


def _digits(number: int) -> int:
    """Decimal digits of `number`, without printing it (Python refuses past 4,300 digits)."""
    magnitude = abs(number)
    estimate = int((magnitude.bit_length() - 1) * _LOG10_2) + 1 if magnitude else 1
    return estimate + 1 if magnitude >= 10**estimate else estimate


ECHOED_CHARACTERS = 64
"""The most of a request's text (a header, an id, a URL) that an answer or a log line repeats."""


def clipped(text: str, limit: int = ECHOED_CHARACTERS) -> str:
    """`text` quoted, cut to its first `limit` characters (saying how long it was) when longer.

    What a request sent is echoed in answers and log lines so that its sender can see what was
    refused; a sender of 900 KB gets back a line, not its 900 KB.
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"
