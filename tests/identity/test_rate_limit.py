from __future__ import annotations

from bridge.identity.rate_limit import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_client_gets_its_burst_then_waits_for_the_rate() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=20, clock=clock)
    assert [limiter.wait("a") for _ in range(20)] == [0] * 20
    assert limiter.wait("a") == 1
    clock.now += 0.1  # one token back
    assert limiter.wait("a") == 0
    assert limiter.wait("a") == 1


def test_retry_after_is_the_whole_seconds_until_a_token_is_back() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=0.25, burst=1, clock=clock)
    assert limiter.wait("a") == 0
    assert limiter.wait("a") == 4
    clock.now += 3.5
    assert limiter.wait("a") == 1


def test_one_client_flooding_leaves_another_its_own_bucket() -> None:
    limiter = RateLimiter(rate=1, burst=2, clock=Clock())
    for _ in range(100):
        limiter.wait("flood")
    assert limiter.wait("flood") > 0
    assert limiter.wait("visitor") == 0


def test_a_bucket_never_holds_more_than_the_burst() -> None:
    clock = Clock()
    limiter = RateLimiter(rate=10, burst=3, clock=clock)
    limiter.wait("a")
    clock.now += 3600
    assert [limiter.wait("a") for _ in range(4)] == [0, 0, 0, 1]


def test_memory_is_bounded_however_many_clients_come() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_clients=3, clock=Clock())
    for n in range(1000):
        limiter.wait(f"scanner-{n}")
    assert len(limiter) == 3


def test_the_least_recently_seen_client_is_forgotten_first() -> None:
    limiter = RateLimiter(rate=1, burst=1, max_clients=3, clock=Clock())
    for client in ("a", "b", "c"):
        limiter.wait(client)
    assert limiter.wait("a") == 1  # remembered: its bucket is empty, and it is the newest now
    limiter.wait("d")  # pushes out b, the least recently seen
    assert limiter.wait("c") == 1
    assert limiter.wait("a") == 1
    assert limiter.wait("b") == 0  # forgotten, so a fresh bucket
