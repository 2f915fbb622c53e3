"""When to try again after a failure: exponential backoff with jitter, capped.

"Equal jitter": half of each delay is fixed and half random, so retries from a burst spread
out over time instead of hitting a recovering vendor together, while each delay still grows.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 5.0
    max_delay_seconds: float = 3600.0

    def delay(self, failures: int, rng: Callable[[], float] = random.random) -> float:
        """Seconds to wait after the `failures`-th failed attempt (1 for the first)."""
        ceiling = min(self.max_delay_seconds, self.base_seconds * (1 << min(failures - 1, 60)))
        return ceiling / 2 + rng() * ceiling / 2

    def after(
        self, failures: int, asked_seconds: float | None, rng: Callable[[], float] = random.random
    ) -> float:
        """Seconds to wait after the `failures`-th failed attempt: the vendor's `Retry-After`
        when it gave one, capped at `max_delay_seconds` (a vendor asking for days must not
        outlast the max age), else the backoff."""
        if asked_seconds is None:
            return self.delay(failures, rng)
        return min(asked_seconds, self.max_delay_seconds)
