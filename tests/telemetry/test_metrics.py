"""/metrics as Prometheus scrapes it: counts of what senders and the queue did."""

from __future__ import annotations

import httpx
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bridge.runtime.settings import Settings
from bridge.telemetry.metrics import Metrics
from bridge.web.app import BridgeApp, create_app
from tests.support import stripe as s
from tests.support.app import admin_client, serving

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def scrape(app: BridgeApp) -> Samples:
    """/metrics from the admin port of `app` (started by the `client` fixture)."""
    async with admin_client(app) as admin:
        response = await admin.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


async def test_webhooks_are_counted_by_source_status_outcome_and_rule(
    app: BridgeApp, client: httpx.AsyncClient
) -> None:
    raw, headers = s.signed(s.event("checkout.session.completed", event_id="evt_m1"))
    assert (await client.post("/webhooks/stripe", content=raw, headers=headers)).status_code == 200
    assert (await client.post("/webhooks/stripe", content=raw, headers=headers)).status_code == 200
    forged = {**headers, "Stripe-Signature": s.signature(raw, "whsec_someone_else")}
    assert (await client.post("/webhooks/stripe", content=raw, headers=forged)).status_code == 401
    assert (await client.post("/webhooks/stripe", content=b"x" * 5000)).status_code == 413
    assert (await client.post("/webhooks/wp-login.php", content=b"{}")).status_code == 404

    samples = await scrape(app)
    requests = "bridge_webhook_requests_total"
    assert value(samples, requests, source="stripe", status="200") == 2
    assert value(samples, requests, source="stripe", status="401") == 1
    assert value(samples, requests, source="stripe", status="413") == 1
    assert value(samples, requests, source="(unknown)", status="404") == 1
    assert value(samples, "bridge_signature_failures_total", source="stripe") == 1
    assert value(samples, "bridge_events_total", source="stripe", outcome="accepted") == 1
    assert value(samples, "bridge_events_total", source="stripe", outcome="duplicate") == 1
    rule = {"source": "stripe", "rule": "stripe-checkout-paid", "result": "converted"}
    assert value(samples, "bridge_rule_results_total", **rule) == 1
    assert value(samples, "bridge_ingest_seconds_count", source="stripe") == 3


async def test_queue_depth_and_the_longest_wait_are_read_at_scrape_time(
    app: BridgeApp, client: httpx.AsyncClient
) -> None:
    samples = await scrape(app)
    assert value(samples, "bridge_queue_pending", destination="pagent") == 0
    assert value(samples, "bridge_queue_oldest_due_age_seconds", destination="pagent") == 0
    for number in range(3):
        raw, headers = s.signed(
            s.event("checkout.session.completed", payment_intent=f"pi_{number}")
        )
        await client.post("/webhooks/stripe", content=raw, headers=headers)
    samples = await scrape(app)
    assert value(samples, "bridge_queue_pending", destination="pagent") == 3
    assert value(samples, "bridge_queue_due", destination="pagent") == 3
    age = value(samples, "bridge_queue_oldest_due_age_seconds", destination="pagent")
    assert age is not None
    assert 0 <= age < 60


async def test_metrics_can_be_turned_off(settings: Settings) -> None:
    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    async with serving(app), admin_client(app) as admin:
        assert (await admin.get("/metrics")).status_code == 404


def test_held_counts_and_timings_expose_as_the_librarys_own_would() -> None:
    """Per-webhook counts are plain ints (`Tally`, `Timings`); scraped, they read exactly like
    prometheus_client's `Counter` and `Histogram` given the same observations."""
    ours = Metrics()
    theirs = CollectorRegistry()
    counter = Counter("bridge_events", "Events", ["source", "outcome"], registry=theirs)
    bounds = ours.ingest_seconds.bounds
    histogram = Histogram(
        "bridge_ingest_seconds", "Time", ["source"], buckets=bounds, registry=theirs
    )
    for source, outcome in [("stripe", "accepted"), ("stripe", "accepted"), ("shop", "ignored")]:
        ours.events.inc(source, outcome)
        counter.labels(source, outcome).inc()
    for seconds in [0.0, bounds[0], bounds[0] * 1.5, bounds[-1], bounds[-1] * 2, 0.0375]:
        ours.ingest_seconds.observe(seconds, "stripe")
        histogram.labels("stripe").observe(seconds)

    def exposed(registry: CollectorRegistry, prefix: str) -> Samples:
        samples = parse(generate_latest(registry).decode())
        return {key: v for key, v in samples.items() if key[0].startswith(prefix)}

    for prefix in ("bridge_events_total", "bridge_ingest_seconds_"):
        assert exposed(ours.registry, prefix) == {
            key: v for key, v in exposed(theirs, prefix).items() if "_created" not in key[0]
        }
    assert (
        value(exposed(ours.registry, "bridge_"), "bridge_ingest_seconds_count", source="stripe")
        == 6
    )
