"""Times as users type them (`24h`, `2026-11-21`, ISO 8601) and as bridge prints them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from bridge.model import unix_ms

_AGO = re.compile(r"^(\d+)([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


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
