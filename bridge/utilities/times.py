"""Times as users type them (`24h`, `2026-11-21`, ISO 8601), as peers write them, and as bridge
prints them.

Every time a sender or a mapping reads from a payload goes through `sender_time`, `iso_moment`
or `unix_moment`: a time outside what a datetime holds (year 1 with a positive offset, year 9999
with a negative one, 10**17 seconds) is None there, never an OverflowError, OSError or
ValueError deep in a sender.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def utc_now() -> datetime:
    return datetime.now(UTC)


def unix_ms(moment: datetime) -> int:
    """Exact integer milliseconds since the epoch (no float rounding)."""
    return (moment - EPOCH) // timedelta(milliseconds=1)


_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}
_FIRST_MICROSECOND = (datetime.min.replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_LAST_MICROSECOND = (datetime.max.replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
_MAX_ADJUSTED = 30
"""A Decimal count beyond 10**30 is refused before any arithmetic on it."""


def parse_moment(text: str, now_ms: int) -> int:
    """Unix ms for `30m`/`24h`/`7d` (that long ago) or an ISO 8601 date or time (UTC if no zone)."""
    value = text.strip()
    ago = _AGO.match(value)
    if ago:
        span = timedelta(**{_UNITS[ago.group(2)]: int(ago.group(1))})
        return now_ms - span // timedelta(milliseconds=1)
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a time: use 24h, 7d, 2026-11-21 or an ISO 8601 time"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return unix_ms(moment)


def format_moment(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def iso_moment(text: str, *, unzoned_utc: bool = False) -> datetime | None:
    """An ISO 8601 time a peer wrote, in UTC; None when it is not one or UTC cannot hold it.

    A time without a zone is UTC when the sender says its times are (`unzoned_utc`), otherwise
    it is ambiguous and None. `0001-01-01T00:00:00+05:00` is a valid ISO 8601 time that is
    before the first instant a datetime can hold in UTC: None as well, never OverflowError.
    """
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC) if unzoned_utc else None
    try:
        return moment.astimezone(UTC)
    except OverflowError:
        return None


def unix_moment(count: int | Decimal, per_second: int = 1) -> datetime | None:
    """The instant `count` units (`per_second` of them a second) after the epoch, to the
    microsecond, exactly; None outside what a datetime can hold (years 1 to 9999)."""
    if isinstance(count, int):
        micros = count * (1_000_000 // per_second)
    elif count.is_finite() and abs(count.adjusted()) <= _MAX_ADJUSTED:
        micros = int(count * 1_000_000 / per_second)
    else:
        return None
    if not _FIRST_MICROSECOND <= micros <= _LAST_MICROSECOND:
        return None
    return EPOCH + timedelta(microseconds=micros)


def sender_time(value: Any, *, per_second: int = 1, unzoned_utc: bool = False) -> datetime | None:
    """The time a sender wrote for an event: ISO 8601 text, or a whole count of `per_second`
    units since the epoch. Anything else (a bool, a float, an object) or a time out of range is
    None: an event without a time still counts, stamped when it arrives."""
    if isinstance(value, str):
        return iso_moment(value, unzoned_utc=unzoned_utc)
    if isinstance(value, int) and not isinstance(value, bool):
        return unix_moment(value, per_second)
    return None
