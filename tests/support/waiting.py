from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(probe: Callable[[], T | None], timeout: float = 15.0, interval: float = 0.05) -> T:
    """Poll `probe` until it returns something truthy (never None); fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    last = probe()
    while last is None or not last:
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        time.sleep(interval)
        last = probe()
    return last
