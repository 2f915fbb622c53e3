from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from bridge.delivery.backoff import RetryPolicy
from bridge.delivery.worker import Worker, WorkerSettings
from bridge.mapping import Config, load_config
from bridge.sources import InboundRequest
from bridge.store.base import AttemptRecord, AttemptView, StoreRefused, StoreUnavailable
from bridge.telemetry.metrics import Metrics
from bridge.use_cases.ingest import Ingestor
from tests.support import stripe as s
from tests.support.mappings import ENVIRON, SOURCE, write_mappings
from tests.support.outbox import HeldDelivery, MemoryOutbox
from tests.support.process import free_port
from tests.support.vendor import Answer, LoopbackVendor, Received

RULE = """
rules:
  - name: paid
    source: stripe
    events: checkout.session.completed
    destination: pagent
    conversion:
      session_id: data.object.metadata.pagent_session_id
      user_id: data.object.metadata.pagent_user_id
      goal_id: data.object.metadata.pagent_conversion_id
      revenue: stripe_money(data.object.amount_total, data.object.currency)
"""
PAGENT = """
destinations:
  pagent:
    vendor: pagent
    base_url: ${PAGENT_BASE_URL}
    api_key: ${PAGENT_API_KEY}
    timeout_seconds: 0.5
    max_age_hours: 1
"""
START = 1_795_000_000.0
PAGENT_IDS = s.sample("checkout.session.completed")["data"]["object"]["metadata"]


@dataclass
class Rig:
    config: Config
    store: MemoryOutbox
    ingestor: Ingestor
    worker: Worker
    vendor: LoopbackVendor
    clock: list[float]
    client: httpx.AsyncClient

    async def receive(self, count: int = 1, **fields: Any) -> None:
        for _ in range(count):
            raw, headers = s.signed(s.event("checkout.session.completed", **fields))
            lowered = {k.lower(): v for k, v in headers.items()}
            reply = await self.ingestor.receive("stripe", InboundRequest("POST", "/", lowered, raw))
            assert reply.status == 200, reply.body

    async def deliveries(self, status: str | None = None) -> list[HeldDelivery]:
        held = self.store.deliveries.values()
        return [d for d in held if status is None or d.status == status]

    def attempts(self, event_id: str) -> list[AttemptView]:
        held = self.store.deliveries
        return [a for a in self.store.attempts if held[a.delivery_id].event_id == event_id]


async def make_rig(
    tmp_path: Path, vendor: LoopbackVendor, base_url: str | None = None, **environ: str
) -> tuple[Rig, httpx.AsyncClient]:
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=RULE)
    config = load_config(folder, {**ENVIRON, "PAGENT_BASE_URL": base_url or vendor.url, **environ})
    store = MemoryOutbox()
    clock = [START]
    client = httpx.AsyncClient()
    settings = WorkerSettings(
        poll_interval_seconds=5,
        lease_seconds=30,
        shutdown_grace_seconds=0.2,
        retry=RetryPolicy(base_seconds=10, max_delay_seconds=600),
    )
    worker = Worker(
        store, config.destinations, client, settings, clock=lambda: clock[0], rng=lambda: 0.5
    )
    ingestor = Ingestor(
        config, store, on_new_deliveries=worker.wake, clock=lambda: clock[0], recent=worker.recent
    )
    return Rig(config, store, ingestor, worker, vendor, clock, client), client


@pytest.fixture
async def rig(tmp_path: Path, vendor: LoopbackVendor) -> AsyncIterator[Rig]:
    built, client = await make_rig(tmp_path, vendor)
    yield built
    await built.worker.stop()
    await client.aclose()


async def test_conversions_due_together_go_in_one_request(rig: Rig) -> None:
    await rig.receive(3)
    assert await rig.worker.run_once() == 3
    [request] = rig.vendor.received
    assert len(request.json()["events"]) == 3
    assert {v.status for v in await rig.deliveries()} == {"delivered"}


async def test_the_worker_takes_what_ingest_kept_and_keeps_nothing_after(rig: Rig) -> None:
    await rig.receive(3)
    assert len(rig.worker.recent) == 3
    assert await rig.worker.run_once() == 3
    assert len(rig.worker.recent) == 0
    sessions = [e["session_id"] for e in rig.vendor.received[0].json()["events"]]
    assert sessions == [PAGENT_IDS["pagent_session_id"]] * 3


async def test_batches_respect_the_vendor_limit(rig: Rig) -> None:
    await rig.receive(150)
    await rig.worker.run_once()
    assert sorted(len(r.json()["events"]) for r in rig.vendor.received) == [50, 100]


async def test_a_server_error_is_retried_with_backoff_then_delivered_once(rig: Rig) -> None:
    rig.vendor.script(Answer(500, b'{"error": "boom"}'), Answer(503))
    await rig.receive(event_id="evt_backoff")
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert (view.status, view.attempts, view.last_answer) == (
        "pending",
        1,
        'HTTP 500: {"error": "boom"}',
    )
    answered = int(START * 1000) + (await only_attempt(rig, "evt_backoff")).duration_ms
    assert view.next_attempt_at == answered + 7_500  # 10 s ceiling, half fixed + 0.5 of the rest
    assert await rig.worker.run_once() == 0  # not due yet
    rig.clock[0] = view.next_attempt_at / 1000
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert int(rig.clock[0] * 1000) + 15_000 <= view.next_attempt_at  # doubled
    assert view.next_attempt_at < int(rig.clock[0] * 1000) + 16_000
    rig.clock[0] = view.next_attempt_at / 1000
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert (view.status, view.attempts) == ("delivered", 3)
    assert len(rig.vendor.received) == 3
    assert len([r for r in rig.vendor.acknowledged if r is rig.vendor.received[-1]]) == 1


async def only_attempt(rig: Rig, event_id: str) -> AttemptView:
    [attempt] = rig.attempts(event_id)
    return attempt


async def test_retry_after_is_honoured(rig: Rig) -> None:
    rig.vendor.script(Answer(429, b"", {"Retry-After": "120"}))
    await rig.receive(event_id="evt_retry_after")
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    attempt = await only_attempt(rig, "evt_retry_after")
    assert view.next_attempt_at == int(START * 1000) + attempt.duration_ms + 120_000


async def test_retry_after_counts_from_when_the_answer_came(rig: Rig) -> None:
    rig.vendor.script(Answer(429, b"", {"Retry-After": "120"}, delay=0.4))
    await rig.receive()
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert view.next_attempt_at >= int(START * 1000) + 400 + 120_000


@pytest.mark.parametrize(
    "value", ["9" * 400, "\u00b2", "\u00b9\u00b2\u00b3", "-5", "soon", "Mon, 99 Foo"]
)
async def test_a_retry_after_that_is_no_delay_falls_back_to_the_backoff(
    rig: Rig, value: str, caplog: pytest.LogCaptureFixture
) -> None:
    rig.vendor.script(Answer(503, b"busy", {"Retry-After": value}))
    await rig.receive(event_id="evt_odd_retry_after")
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    attempt = await only_attempt(rig, "evt_odd_retry_after")
    assert (view.status, attempt.outcome, attempt.http_status) == ("pending", "retry", 503)
    assert view.next_attempt_at == int(START * 1000) + attempt.duration_ms + 7_500  # backoff
    assert any("Retry-After" in r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert not any("busy" in r.getMessage() for r in caplog.records)


async def test_a_retry_after_past_the_max_delay_is_capped_and_retried_until_max_age(
    rig: Rig,
) -> None:
    """Retry-After 4 days, max delay 600 s, max age 1 h: tried every 600 s, then dead."""
    rig.vendor.script(*[Answer(429, b"", {"Retry-After": "345600"})] * 7)
    await rig.receive()
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    first = view.status  # compared by value: `view` is read again in the loop below
    assert first == "pending"
    assert 600_000 <= view.next_attempt_at - int(START * 1000) < 601_000
    while view.status == "pending":
        rig.clock[0] = view.next_attempt_at / 1000
        assert await rig.worker.run_once() == 1
        [view] = await rig.deliveries()
    assert view.status == "dead"
    assert len(rig.vendor.received) == view.attempts == 6
    assert view.last_answer == "max age reached after 6 attempts; last: HTTP 429"


async def test_a_client_error_is_dead_with_the_vendors_answer_and_not_retried(rig: Rig) -> None:
    rig.vendor.script(Answer(401, b'{"error": "API key expired"}'))
    await rig.receive()
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert view.status == "dead"
    assert view.last_answer == 'HTTP 401: {"error": "API key expired"}'
    rig.clock[0] += 3600
    assert await rig.worker.run_once() == 0
    assert len(rig.vendor.received) == 1


def refuse_session(bad: str) -> Callable[[Received], Answer]:
    """A vendor that refuses any batch containing the conversion of session `bad`."""

    def answer(request: Received) -> Answer:
        sessions = [event["session_id"] for event in request.json()["events"]]
        if bad in sessions:
            return Answer(400, b'{"error": "revenue must be an integer"}')
        return Answer(200, orjson.dumps({"accepted": len(sessions)}))

    return answer


async def test_one_bad_conversion_does_not_sink_its_batch(tmp_path: Path) -> None:
    vendor = LoopbackVendor(refuse_session("s_bad")).start()
    rig, client = await make_rig(tmp_path, vendor)
    try:
        for n in range(8):
            session = "s_bad" if n == 5 else f"s_{n}"
            await rig.receive(
                event_id=f"evt_split_{n}", metadata={**PAGENT_IDS, "pagent_session_id": session}
            )
        await rig.worker.run_once()
        statuses = sorted(v.status for v in await rig.deliveries())
        assert statuses == ["dead"] + ["delivered"] * 7
        [dead] = await rig.deliveries("dead")
        assert dead.last_answer == 'HTTP 400: {"error": "revenue must be an integer"}'
        # halving finds it in log2(8) rounds: 8, then 4 + 4, then 2 + 2, then 1 + 1
        assert sorted(len(r.json()["events"]) for r in vendor.received) == [1, 1, 2, 2, 4, 4, 8]
        # and each refused request is an attempt of every conversion it carried
        views = sorted(await rig.deliveries(), key=lambda v: v.event_id)
        assert [(v.status, v.attempts) for v in views] == [
            *[("delivered", 2)] * 4,
            ("delivered", 4),
            ("dead", 4),
            ("delivered", 3),
            ("delivered", 3),
        ]
        assert [(a.outcome, a.http_status, a.answer) for a in rig.attempts("evt_split_0")] == [
            ("split", 400, 'HTTP 400: {"error": "revenue must be an integer"}'),
            ("delivered", 200, '{"accepted":4}'),
        ]
    finally:
        vendor.stop()
        await client.aclose()


async def test_a_vendor_that_does_not_answer_in_time_is_retried(rig: Rig) -> None:
    rig.vendor.script(Answer(delay=2))
    await rig.receive()
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert (view.status, view.last_answer) == ("pending", "no answer within 0.5s")


async def test_a_vendor_that_refuses_connections_is_retried(
    tmp_path: Path, vendor: LoopbackVendor
) -> None:
    rig, client = await make_rig(tmp_path, vendor, base_url=f"http://127.0.0.1:{free_port()}")
    try:
        await rig.receive()
        await rig.worker.run_once()
        [view] = await rig.deliveries()
        assert view.status == "pending"
        assert (view.last_answer or "").startswith("connection failed: ConnectError")
    finally:
        await client.aclose()


async def test_a_delivery_past_its_max_age_is_dead_without_being_sent(rig: Rig) -> None:
    await rig.receive()
    rig.clock[0] += 3601
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert (view.status, view.last_answer) == ("dead", "max age reached before it could be sent")
    assert rig.vendor.received == []


async def test_retries_stop_when_the_next_one_would_be_too_late(rig: Rig) -> None:
    rig.vendor.script(Answer(503, b""), Answer(503, b""))
    await rig.receive()
    await rig.worker.run_once()
    rig.clock[0] += 3590  # the next backoff (15 s) would fall past the max age of 1 h
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    assert view.status == "dead"
    assert view.last_answer == "max age reached after 2 attempts; last: HTTP 503"


async def test_deliveries_wait_while_the_destination_secret_is_unset(
    tmp_path: Path, vendor: LoopbackVendor
) -> None:
    rig, client = await make_rig(tmp_path, vendor)
    try:
        await rig.receive()
        waiting = load_config(
            tmp_path / "mappings",
            {"STRIPE_WEBHOOK_SECRET": s.SECRET, "PAGENT_BASE_URL": vendor.url},
        )
        idle = Worker(rig.store, waiting.destinations, client, clock=lambda: rig.clock[0])
        assert await idle.run_once() == 0
        [view] = await rig.deliveries()
        assert (view.status, view.attempts) == ("pending", 0)
        assert await rig.worker.run_once() == 1  # once the key is set, it goes
    finally:
        await client.aclose()


async def test_new_deliveries_wake_the_worker_without_waiting_for_the_poll(rig: Rig) -> None:
    rig.worker.start()
    await asyncio.sleep(0.05)
    await rig.receive()
    await asyncio.to_thread(rig.vendor.wait_for, 1, 2.0, acknowledged=True)  # poll interval is 5 s


async def test_stopping_hands_back_leases_of_unfinished_sends(rig: Rig) -> None:
    rig.vendor.script(Answer(delay=3))
    await rig.receive()
    rig.worker.start()
    await asyncio.to_thread(rig.vendor.wait_for, 1)
    await rig.worker.stop()  # grace 0.2 s < the vendor's 3 s
    claimed = await rig.store.claim("next-process", int(rig.clock[0] * 1000), 10, 1000, ["pagent"])
    assert len(claimed) == 1
    assert claimed[0].attempts == 0
    body = orjson.loads(claimed[0].conversion)
    assert body["session_id"] == "s_8f14e45fceea167a"


async def test_an_unexpected_error_does_not_stop_delivery_for_good(
    rig: Rig, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_claim = rig.store.claim
    calls = {"n": 0}

    async def flaky_claim(*args: object, **kwargs: object) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("a bug in one round")
        return await real_claim(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(rig.store, "claim", flaky_claim)
    await rig.receive()
    fast = WorkerSettings(poll_interval_seconds=0.05)
    worker = Worker(
        rig.store, rig.config.destinations, rig.client, fast, clock=lambda: rig.clock[0]
    )
    worker.start()
    try:
        await asyncio.to_thread(rig.vendor.wait_for, 1, 3.0, acknowledged=True)
    finally:
        await worker.stop()
    assert calls["n"] >= 2


async def test_outcomes_and_vendor_requests_are_counted_for_metrics(rig: Rig) -> None:
    metrics = Metrics()
    worker = Worker(
        rig.store,
        rig.config.destinations,
        rig.client,
        WorkerSettings(retry=RetryPolicy(base_seconds=1, max_delay_seconds=1)),
        clock=lambda: rig.clock[0],
        metrics=metrics,
    )
    rig.vendor.script(Answer(delay=2), Answer(500))
    await rig.receive(2)
    await worker.run_once()  # one batch of two: timed out
    rig.clock[0] += 5
    await worker.run_once()  # 500
    rig.clock[0] += 5
    await worker.run_once()  # 200
    labels = {"destination": "pagent", "vendor": "pagent"}
    sample = metrics.registry.get_sample_value
    assert sample("bridge_vendor_requests_total", {**labels, "status": "timeout"}) == 1
    assert sample("bridge_vendor_requests_total", {**labels, "status": "500"}) == 1
    assert sample("bridge_vendor_requests_total", {**labels, "status": "200"}) == 1
    assert sample("bridge_deliveries_total", {**labels, "outcome": "retry"}) == 4
    assert sample("bridge_deliveries_total", {**labels, "outcome": "delivered"}) == 2
    assert sample("bridge_vendor_request_seconds_count", labels) == 3


async def test_a_briefly_locked_store_does_not_make_the_worker_send_twice(rig: Rig) -> None:
    real_record = rig.store.record
    failures = [StoreUnavailable("database is locked"), StoreUnavailable("database is locked")]

    async def locked_then_free(owner: str, attempts: Sequence[AttemptRecord]) -> None:
        if failures:
            raise failures.pop()
        await real_record(owner, attempts)

    rig.store.record = locked_then_free  # type: ignore[method-assign]
    await rig.receive()
    await rig.worker.run_once()
    assert failures == []
    [view] = await rig.deliveries()
    assert (view.status, view.attempts) == ("delivered", 1)
    assert len(rig.vendor.received) == 1


async def test_the_log_line_of_a_dead_delivery_names_the_event_and_the_delivery(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    rig.vendor.script(Answer(401, b'{"error": "API key expired"}'))
    await rig.receive(event_id="evt_dead_logged")
    await rig.worker.run_once()
    [view] = await rig.deliveries()
    [line] = [r for r in caplog.records if r.getMessage() == "delivery dead"]
    assert line.levelname == "ERROR"
    assert (line.source, line.event_id, line.delivery) == ("stripe", "evt_dead_logged", view.id)  # type: ignore[attr-defined]
    assert line.reason == 'HTTP 401: {"error": "API key expired"}'  # type: ignore[attr-defined]


async def test_a_delivery_given_up_before_sending_is_logged_with_its_event(
    rig: Rig, caplog: pytest.LogCaptureFixture
) -> None:
    await rig.receive(event_id="evt_too_old")
    rig.clock[0] += 3601
    await rig.worker.run_once()
    [line] = [r for r in caplog.records if r.getMessage() == "delivery dead"]
    assert (line.source, line.event_id) == ("stripe", "evt_too_old")  # type: ignore[attr-defined]


async def test_an_answer_the_store_refuses_is_recorded_without_it_at_once(rig: Rig) -> None:
    """A record the store refuses for its data (not an outage) neither waits for the lease
    nor leaves what the vendor accepted to be sent again."""
    real_record = rig.store.record
    refused: list[int] = []

    async def refusing_odd_answers(owner: str, attempts: Sequence[AttemptRecord]) -> None:
        if any("odd" in (a.answer or "") for a in attempts):
            refused.append(len(attempts))
            rig.clock[0] += 10  # a refusal is no reason to wait: the lease (30 s) would run out
            raise StoreRefused('invalid byte sequence for encoding "UTF8": 0x00')
        await real_record(owner, attempts)

    rig.store.record = refusing_odd_answers  # type: ignore[method-assign]
    rig.vendor.script(Answer(200, b'{"accepted": 1, "note": "odd"}'))
    await rig.receive(event_id="evt_refused_answer")
    assert await rig.worker.run_once() == 1
    [view] = await rig.deliveries()
    assert (view.status, view.attempts) == ("delivered", 1)
    assert refused == [1]
    assert [(a.outcome, a.answer) for a in rig.attempts("evt_refused_answer")] == [
        ("delivered", "(the vendor's answer could not be stored)")
    ]
    rig.clock[0] += 3600
    assert await rig.worker.run_once() == 0
    assert len(rig.vendor.received) == 1
