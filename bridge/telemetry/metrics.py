"""Prometheus metrics, one registry per app (so tests and several apps in a process never mix).

Label values are bounded: sources, destinations, rules and ledgers come from the mapping files,
and a request for a source (or ledger) that does not exist is counted under `"(unknown)"`, so a
scanner cannot grow the series without limit.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Collection, Iterable, Sequence
from itertools import accumulate
from typing import Any, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from prometheus_client.metrics_core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from bridge.store.base import QueueDepth

UNKNOWN_SOURCE = "(unknown)"
CONTENT_TYPE = CONTENT_TYPE_LATEST

Child = TypeVar("Child", Counter, Gauge, Histogram)

_FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
_VENDOR = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Tally:
    """A counter family held as plain integers, for the counts made on every webhook.

    Counted only on the event loop, so a dict of ints needs none of the library's locks and
    calls (a third of their cost, docs/benchmarks.md); `Metrics` hands them to its registry, so
    the exposition is still the library's (without the `_created` series)."""

    def __init__(self, name: str, documentation: str, labelnames: Sequence[str]) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self.counts: dict[tuple[str, ...], int] = {}

    def inc(self, *labels: str) -> None:
        self.counts[labels] = self.counts.get(labels, 0) + 1

    def family(self) -> Metric:
        family = CounterMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, count in self.counts.items():
            family.add_metric(labels, count)
        return family


class Timings:
    """A histogram family of durations, held like `Tally`: per label set, a count per bucket
    (the last one past the largest bound) and the sum."""

    def __init__(
        self, name: str, documentation: str, labelnames: Sequence[str], bounds: Sequence[float]
    ) -> None:
        self.name = name
        self.documentation = documentation
        self.labelnames = list(labelnames)
        self.bounds = tuple(bounds)
        self._series: dict[tuple[str, ...], list[float]] = {}

    def observe(self, seconds: float, *labels: str) -> None:
        series = self._series.get(labels)
        if series is None:
            series = self._series[labels] = [0] * (len(self.bounds) + 2)
        series[bisect_left(self.bounds, seconds)] += 1  # le: the first bound >= seconds
        series[-1] += seconds

    def family(self) -> Metric:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        edges = [*map(floatToGoString, self.bounds), "+Inf"]
        for labels, series in self._series.items():
            cumulative = accumulate(series[:-1])
            family.add_metric(labels, list(zip(edges, cumulative, strict=True)), series[-1])
        return family


class _Held(Collector):
    def __init__(self, families: Sequence[Tally | Timings]) -> None:
        self._families = families

    def collect(self) -> list[Metric]:
        return [family.family() for family in self._families]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self._children: dict[tuple[Any, tuple[str, ...]], Any] = {}
        r = self.registry
        self.webhook_requests = Tally(
            "bridge_webhook_requests",
            "Webhook requests answered, by source and HTTP status",
            ["source", "status"],
        )
        self.events = Tally(
            "bridge_events",
            "Verified sender events by source and stored outcome",
            ["source", "outcome"],
        )
        self.signature_failures = Tally(
            "bridge_signature_failures",
            "Webhook requests refused because the signature was missing, wrong or stale",
            ["source"],
        )
        self.rule_results = Tally(
            "bridge_rule_results",
            "Rule evaluations by source, rule and result (converted, unmapped, skipped)",
            ["source", "rule", "result"],
        )
        self.ingest_seconds = Timings(
            "bridge_ingest_seconds",
            "Time from a webhook's body being read to its answer (verify, map, durable commit)",
            ["source"],
            _FAST,
        )
        self.identify_requests = Tally(
            "bridge_identify_requests",
            "Beacons answered on /identify, by ledger and HTTP status",
            ["ledger", "status"],
        )
        r.register(
            _Held(
                [
                    self.webhook_requests,
                    self.identify_requests,
                    self.events,
                    self.signature_failures,
                    self.rule_results,
                    self.ingest_seconds,
                ]
            )
        )
        self.deliveries = Counter(
            "bridge_deliveries",
            "Delivery attempts' results by destination, vendor and outcome (delivered,"
            " not_credited, unverified: a 2xx answer bridge could not read, split: a refused"
            " batch re-sent in halves, retry, dead)",
            ["destination", "vendor", "outcome"],
            registry=r,
        )
        self.mapping_reload_failures = Counter(
            "bridge_mapping_reload_failures",
            "Reloads of the mapping files refused (the running files were kept)",
            registry=r,
        )
        self.identity_waits = Counter(
            "bridge_identity_waits",
            "Events that waited for their visitor's identity, by source and how the wait ended"
            " (arrived: the beacon came and the event was mapped again; expired: unmapped)",
            ["source", "result"],
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

    def child(self, metric: Child, *labels: str) -> Child:
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
