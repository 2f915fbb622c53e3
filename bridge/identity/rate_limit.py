"""A token bucket per client in front of the public beacon endpoint, in bounded memory.

Each client may send `burst` beacons at once and `rate` a second after that. The buckets are
kept in least-recently-used order and at most `max_clients` of them: a crowd of new addresses
pushes the quietest ones out (they start again with a full bucket), so no sender can grow the
table. A page sends a beacon when its ids change, a few a minute; the defaults leave room for
many visitors behind one address (an office, a mobile carrier's NAT).

The limit is per process: replicas behind a load balancer each keep their own buckets.
"""

from __future__ import annotations

import math
import time
from collections import OrderedDict
from collections.abc import Callable

MAX_CLIENTS = 10_000
"""Buckets kept at once (about 1 MB)."""


class RateLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        max_clients: int = MAX_CLIENTS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.max_clients = max_clients
        self._clock = clock
        self._buckets: OrderedDict[str, list[float]] = OrderedDict()
        """Client -> [tokens left, when they were counted]."""

    def wait(self, client: str) -> int:
        """Take one token for `client`: 0 when it may go ahead, else the whole seconds until a
        token is there again (its `Retry-After`)."""
        now = self._clock()
        bucket = self._buckets.get(client)
        if bucket is None:
            if len(self._buckets) >= self.max_clients:
                self._buckets.popitem(last=False)
            bucket = self._buckets[client] = [float(self.burst), now]
        else:
            self._buckets.move_to_end(client)
            bucket[0] = min(self.burst, bucket[0] + (now - bucket[1]) * self.rate)
            bucket[1] = now
        if bucket[0] >= 1:
            bucket[0] -= 1
            return 0
        return max(1, math.ceil((1 - bucket[0]) / self.rate))

    def __len__(self) -> int:
        return len(self._buckets)
