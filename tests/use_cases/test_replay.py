"""Replay through the use case: stored bytes, current mappings, nothing delivered twice."""

from __future__ import annotations

import hashlib
import hmac
import shutil
from pathlib import Path

from bridge.mapping import load_config
from bridge.sources import InboundRequest
from bridge.store.base import EventFilter
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor
from bridge.use_cases.replay import replay
from tests.support import stripe as s

SECRET = "shop-secret-5b1c9e"
EXAMPLES = s.REPO / "mappings" / "examples"


async def test_events_whose_id_and_type_came_from_headers_can_be_replayed(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    example = (EXAMPLES / "hmac-to-pagent.yaml").read_text()
    header_ids = example.replace("event_id: id ", "event_id: {header: X-Event-Id} ").replace(
        "event_type: event ", "event_type: {header: X-Event-Name} "
    )
    (folder / "shop.yaml").write_text(header_ids)
    shutil.copy(s.REPO / "mappings" / "pagent.yaml", folder)
    environ = {"SHOP_WEBHOOK_SECRET": SECRET, "PAGENT_API_KEY": "pk_test"}
    config = load_config(folder, environ)
    body = (s.REPO / "mappings" / "samples" / "hmac" / "order.completed.json").read_bytes()
    digest = hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {
        "x-hub-signature-256": f"sha256={digest}",
        "x-event-id": "delivery-0042",
        "x-event-name": "order.completed",
    }
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:
        reply = await Ingestor(config, store).receive(
            "shop", InboundRequest("POST", "http://bridge/webhooks/shop", headers, body)
        )
        assert reply.body["status"] == "accepted", reply.body
        [result] = await replay(store, config, [EventFilter(source="shop")], limit=10, dry_run=True)
        assert (result.event_id, result.before, result.after) == (
            "delivery-0042",
            "accepted",
            "accepted",
        )
        [again] = await replay(store, config, [EventFilter(source="shop")], limit=10, dry_run=False)
        assert (again.after, again.new_deliveries) == ("accepted", 0)
    finally:
        await store.close()


async def test_a_standard_webhooks_event_keeps_its_header_id_on_replay(tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from standardwebhooks.webhooks import Webhook

    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(EXAMPLES / "standard-webhooks-to-pagent.yaml", folder)
    shutil.copy(s.REPO / "mappings" / "pagent.yaml", folder)
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    config = load_config(folder, {"STANDARD_WEBHOOKS_SECRET": secret, "PAGENT_API_KEY": "pk"})
    body = (s.REPO / "mappings" / "samples" / "standard-webhooks" / "order.paid.json").read_bytes()
    now = datetime.now(UTC)
    headers = {
        "webhook-id": "msg_2aXb",
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": Webhook(secret).sign("msg_2aXb", now, body.decode()),
    }
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:
        request = InboundRequest("POST", "http://bridge/webhooks/orders", headers, body)
        reply = await Ingestor(config, store).receive("orders", request)
        assert reply.body["status"] == "accepted", reply.body
        [result] = await replay(store, config, [EventFilter()], limit=10, dry_run=False)
        assert (result.event_id, result.after, result.new_deliveries) == ("msg_2aXb", "accepted", 0)
    finally:
        await store.close()
