"""How a value from a payload may appear in a reason, an answer or a log line.

Reasons are stored, logged and sent back to the sender, so they must not carry personal data:
a short, plainly harmless value (a currency code, a number, an id-like token) is quoted, since it
is what a user needs to fix a mapping; anything else is described by its type and length only.
"""

from __future__ import annotations

import re
from typing import Any

_SAFE = re.compile(r"[A-Za-z0-9 _.:+-]{0,24}")


def shown(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, int | float):
        text = repr(value)
        return text if len(text) <= 24 else f"a number of {len(text)} digits"
    if isinstance(value, str) and _SAFE.fullmatch(value):
        return repr(value)
    return f"a {type(value).__name__} of {len(str(value))} characters"
