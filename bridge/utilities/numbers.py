"""Whole numbers written as text by a peer: headers, payload fields, `Retry-After`.

`str.isdigit()` and `int()` accept far more than ASCII digits (superscripts, Arabic-Indic and
fullwidth digits) and any length, so text a peer controls can raise ValueError or OverflowError
deep in a use case, or be read as a number it does not spell. Everything a peer sends as a
number is read here: ASCII digits only, bounded in length, or None.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_DIGITS = 18
"""Enough for unix milliseconds and any money amount in minor units; fits a signed 64-bit column."""

_DIGITS = frozenset("0123456789")


def ascii_int(text: str, *, max_digits: int = MAX_DIGITS, signed: bool = False) -> int | None:
    """`text` (surrounding blanks allowed) as an int if it is ASCII digits, else None.

    A leading '-' is accepted only when `signed`; '+', '_', and digits of other scripts never are.
    """
    digits = text.strip()
    negative = signed and digits.startswith("-")
    if negative:
        digits = digits[1:]
    if not digits or len(digits) > max_digits or not _DIGITS.issuperset(digits):
        return None
    value = int(digits)
    return -value if negative else value


_DECIMAL = re.compile(r"-?[0-9]+(?:\.[0-9]+)?", re.ASCII)


def ascii_decimal(
    text: str, *, max_digits: int = MAX_DIGITS, signed: bool = False
) -> Decimal | None:
    """`text` (surrounding blanks allowed) as an exact Decimal if it is ASCII digits with at most
    one '.' between them, else None.

    `Decimal()` alone also reads other scripts' digits, `NaN`, `Infinity`, exponents and '_'.
    """
    number = text.strip()
    if not _DECIMAL.fullmatch(number) or (number.startswith("-") and not signed):
        return None
    if len(number) - number.startswith("-") - ("." in number) > max_digits:
        return None
    return Decimal(number)
