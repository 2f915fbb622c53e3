"""What a vendor's answer means for one conversion: delivered, retry (when), or dead (why).

The generic reading follows HTTP: 2xx delivered; 408, 429 and 5xx retry, honouring
`Retry-After`; a redirect or any other 4xx is permanent. Vendor modules refine it where the
vendor's documents say more (a 200 that credited nothing, a 413 that asks for smaller batches).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import Literal

from bridge.utilities.numbers import ascii_int

log = logging.getLogger("bridge.delivery")

RETRYABLE_4XX = frozenset({408, 429})
SPLITTABLE = frozenset({400, 413, 422})
"""Batch-level refusals that may be caused by one bad item: resend the items one by one."""


@dataclass(frozen=True, slots=True)
class Delivered:
    status: int | None = None
    answer: str | None = None
    credited: bool = True
    """False when the vendor accepted the call but reported that it credited nothing."""
    verified: bool = True
    """False when the answer could not be read: accepted by its status alone, never resent."""

    @property
    def outcome(self) -> Literal["delivered", "not_credited", "unverified"]:
        if not self.verified:
            return "unverified"
        return "delivered" if self.credited else "not_credited"


@dataclass(frozen=True, slots=True)
class Retry:
    reason: str
    status: int | None = None
    after_seconds: float | None = None
    """The vendor's `Retry-After`, when it gave one."""


@dataclass(frozen=True, slots=True)
class Dead:
    reason: str
    status: int | None = None
    split: bool = False
    """The refusal may be one item's fault: resend each item alone before giving up."""


Verdict = Delivered | Retry | Dead


def classify_http(status: int, headers: Mapping[str, str], answer: str) -> Verdict:
    if 200 <= status < 300:
        return Delivered(status=status, answer=answer or None)
    if status in RETRYABLE_4XX or status >= 500:
        return Retry(
            reason=f"HTTP {status}: {answer}" if answer else f"HTTP {status}",
            status=status,
            after_seconds=retry_after_seconds(headers.get("retry-after")),
        )
    if 300 <= status < 400:
        location = _without_query(headers.get("location", "?"))
        return Dead(
            reason=f"HTTP {status} redirect to {location}: point base_url at the final address",
            status=status,
        )
    return Dead(
        reason=f"HTTP {status}: {answer}" if answer else f"HTTP {status}",
        status=status,
        split=status in SPLITTABLE,
    )


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """`Retry-After` in RFC 9110's two forms, delay-seconds or an HTTP date; None when absent.

    Anything else (other scripts' digits, a number past any sensible delay, text) is ignored
    with a warning: the backoff decides instead, and an odd header never fails a round.
    """
    if not value:
        return None
    seconds = ascii_int(value)
    if seconds is not None:
        return float(seconds)
    try:
        when = parsedate_to_datetime(value.strip())
        current = time.time() if now is None else now
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - current)
    except (TypeError, ValueError, OverflowError, IndexError):
        log.warning(
            "ignored a Retry-After that is neither seconds nor an HTTP date",
            extra={"retry_after": value[:40]},
        )
        return None


def _without_query(location: str) -> str:
    """A redirect's target without its query and fragment: those may carry a key the vendor
    echoed back (`?apikey=...`), and the address is what the operator needs."""
    return location.split("?", 1)[0].split("#", 1)[0][:200]
