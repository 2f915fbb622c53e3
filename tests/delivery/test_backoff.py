from bridge.delivery.backoff import RetryPolicy


def test_delays_double_until_the_cap() -> None:
    policy = RetryPolicy(base_seconds=5, max_delay_seconds=60)
    ceilings = [policy.delay(n, rng=lambda: 1.0) for n in range(1, 8)]
    assert ceilings == [5, 10, 20, 40, 60, 60, 60]


def test_jitter_keeps_at_least_half_of_each_delay() -> None:
    policy = RetryPolicy(base_seconds=8, max_delay_seconds=3600)
    assert policy.delay(3, rng=lambda: 0.0) == 16
    assert policy.delay(3, rng=lambda: 0.999) < 32


def test_huge_failure_counts_stay_at_the_cap() -> None:
    assert RetryPolicy(5, 3600).delay(10_000, rng=lambda: 1.0) == 3600
