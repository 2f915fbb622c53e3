"""Prometheus metrics, one registry per app (so tests and several apps in a process never mix).

Label values are bounded: sources, destinations and rules come from the mapping files, and a
request for a source that does not exist is counted under `source="(unknown)"`, so a scanner
cannot grow the series without limit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from bridge.store.base import QueueDepth

UNKNOWN_SOURCE = "(unknown)"
CONTENT_TYPE = CONTENT_TYPE_LATEST

Metric = TypeVar("Metric", Counter, Gauge, Histogram)

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_VENDOR = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        r = self.registry
        self.webhook_requests = Counter(
            "bridge_webhook_requests",
            "Webhook requests answered, by source and HTTP status",
            ["source", "status"],
            registry=r,
        )
        self.events = Counter(
            "bridge_events",
            "Verified sender events by source and stored outcome",
            ["source", "outcome"],
            registry=r,
        )
        self.signature_failures = Counter(
            "bridge_signature_failures",
            "Webhook requests refused because the signature was missing, wrong or stale",
            ["source"],
            registry=r,
        )
        self.rule_results = Counter(
            "bridge_rule_results",
            "Rule evaluations by source, rule and result (converted, unmapped, skipped)",
            ["source", "rule", "result"],
            registry=r,
        )
        self.ingest_seconds = Histogram(
            "bridge_ingest_seconds",
            "Time from a webhook's body being read to its answer (verify, map, durable commit)",
            ["source"],
            buckets=_FAST,
            registry=r,
        )
        self.deliveries = Counter(
            "bridge_deliveries",
            "Delivery attempts' results by destination, vendor and outcome "
            "(delivered, not_credited, retry, dead)",
            ["destination", "vendor", "outcome"],
            registry=r,
        )
        self.vendor_requests = Counter(
            "bridge_vendor_requests",
            "HTTP requests to vendors by destination and status (HTTP code, timeout or error)",
            ["destination", "vendor", "status"],
            registry=r,
        )
        self.vendor_seconds = Histogram(
            "bridge_vendor_request_seconds",
            "Duration of one vendor request (a batch of conversions)",
            ["destination", "vendor"],
            buckets=_VENDOR,
            registry=r,
        )
        self.queue_pending = Gauge(
            "bridge_queue_pending",
            "Deliveries waiting to be sent (due or scheduled for a retry), by destination",
            ["destination"],
            registry=r,
        )
        self.queue_due = Gauge(
            "bridge_queue_due",
            "Deliveries whose attempt time has come, by destination",
            ["destination"],
            registry=r,
        )
        self.queue_oldest_due_age = Gauge(
            "bridge_queue_oldest_due_age_seconds",
            "How long the longest-waiting due delivery has waited (0 when none is due)",
            ["destination"],
            registry=r,
        )

    def child(self, metric: Metric, *labels: str) -> Metric:
        """`metric.labels(*labels)`, kept: label values are bounded, and `labels()` costs more
        than the increment on the path that answers every webhook."""
        key = (metric, labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found

    def source_label(self, name: str, known: Collection[str]) -> str:
        return name if name in known else UNKNOWN_SOURCE

    def set_queue(
        self, depths: Iterable[QueueDepth], destinations: Iterable[str], now: int
    ) -> None:
        """Refresh the queue gauges; destinations with nothing queued read 0, not stale values."""
        by_name = {depth.destination: depth for depth in depths}
        for name in {*destinations, *by_name}:
            depth = by_name.get(name)
            pending = depth.pending if depth else 0
            due = depth.due if depth else 0
            oldest = depth.oldest_due_at if depth else None
            self.queue_pending.labels(name).set(pending)
            self.queue_due.labels(name).set(due)
            age = 0.0 if oldest is None else max(0, now - oldest) / 1000
            self.queue_oldest_due_age.labels(name).set(age)

    def render(self) -> bytes:
        return generate_latest(self.registry)
