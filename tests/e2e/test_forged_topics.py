"""A captured delivery sent again under another topic, through the shipped examples.

Shopify and WooCommerce put the topic (the event type) in a header their signature does not
cover: anyone holding one genuine delivery can send its signed body again as `orders/paid`. The
shipped rules must read what the signed body says (financial status, order status), and the
conversion's identity must not depend on the topic, so such a copy is never a purchase and a
paid order counts once whatever topic it arrives under.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.sources import InboundRequest
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor, Reply
from tests.support.mappings import example_config
from tests.support.senders import SENDERS
from tests.support.stripe import REPO

EXAMPLES = REPO / "mappings" / "examples"


class Shop:
    """A shipped example over a real SQLite file, fed signed bodies with chosen headers."""

    def __init__(self, ingestor: Ingestor, store: SQLiteStore, source: str) -> None:
        self.ingestor, self.store, self.source = ingestor, store, source

    async def send(self, body: bytes, headers: dict[str, str]) -> Reply:
        url = f"http://b/webhooks/{self.source}"
        return await self.ingestor.receive(self.source, InboundRequest("POST", url, headers, body))

    def deliveries(self) -> list[tuple[Any, ...]]:
        sql = "SELECT destination, dedupe_key FROM deliveries"
        return sqlite3.connect(self.store.path).execute(sql).fetchall()


async def open_shop(tmp_path: Path, example: str, source: str) -> Shop:
    config = example_config(tmp_path, EXAMPLES / f"{example}.yaml")
    store = await SQLiteStore.open(tmp_path / "bridge.db")
    return Shop(Ingestor(config, store), store, source)


@pytest.fixture
async def shopify(tmp_path: Path) -> AsyncIterator[Shop]:
    shop = await open_shop(tmp_path, "shopify-to-scanova", "shopify")
    yield shop
    await shop.store.close()


@pytest.fixture
async def woocommerce(tmp_path: Path) -> AsyncIterator[Shop]:
    shop = await open_shop(tmp_path, "woocommerce-to-pagent", "woocommerce")
    yield shop
    await shop.store.close()


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def shopify_order(financial_status: str) -> bytes:
    order = orjson.loads(SENDERS["shopify"].sample())
    stamp = now_iso()
    order.update(financial_status=financial_status, created_at=stamp, updated_at=stamp)
    return orjson.dumps(order)


def shopify_headers(body: bytes, topic: str, event_id: str) -> dict[str, str]:
    """The genuine signature of `body`, with the unsigned topic and event id chosen."""
    signed = SENDERS["shopify"].sign(body, "", "").headers
    return {**signed, "x-shopify-topic": topic, "x-shopify-event-id": event_id}


async def test_an_unpaid_shopify_order_resent_as_orders_paid_is_no_purchase(shopify: Shop) -> None:
    body = shopify_order("pending")
    genuine = await shopify.send(body, shopify_headers(body, "orders/create", "ev-create-1"))
    assert genuine.status == 200, genuine.body
    forged = await shopify.send(body, shopify_headers(body, "orders/paid", "ev-forged-1"))
    assert forged.status == 200, forged.body
    assert forged.body["status"] == "ignored", forged.body
    assert shopify.deliveries() == []


async def test_a_paid_shopify_order_counts_once_under_any_topic_and_event_id(
    shopify: Shop,
) -> None:
    body = shopify_order("paid")
    paid = await shopify.send(body, shopify_headers(body, "orders/paid", "ev-paid-1"))
    assert paid.body["status"] == "accepted", paid.body
    again = await shopify.send(body, shopify_headers(body, "orders/paid", "ev-forged-2"))
    assert again.body["status"] == "duplicate", again.body
    assert "conversion already recorded" in again.body["reason"]
    [(destination, key)] = shopify.deliveries()
    assert (destination, key) == ("scanova", "txn:purchase:5876543210123")


def woocommerce_order(status: str) -> bytes:
    order = orjson.loads(SENDERS["woocommerce"].sample())
    stamp = datetime.now(UTC).replace(microsecond=0, tzinfo=None).isoformat()
    order.update(status=status, date_created_gmt=stamp, date_modified_gmt=stamp)
    return orjson.dumps(order)


def woocommerce_headers(body: bytes, topic: str) -> dict[str, str]:
    signed = SENDERS["woocommerce"].sign(body, "", "").headers
    return {**signed, "x-wc-webhook-topic": topic}


async def test_a_pending_woocommerce_order_resent_under_another_topic_is_no_purchase(
    woocommerce: Shop,
) -> None:
    body = woocommerce_order("pending")
    genuine = await woocommerce.send(body, woocommerce_headers(body, "order.created"))
    assert genuine.body["status"] == "ignored", genuine.body
    forged = await woocommerce.send(body, woocommerce_headers(body, "order.updated"))
    assert forged.body["status"] == "ignored", forged.body
    assert woocommerce.deliveries() == []


async def test_a_paid_woocommerce_order_counts_once_under_either_topic(woocommerce: Shop) -> None:
    body = woocommerce_order("processing")
    created = await woocommerce.send(body, woocommerce_headers(body, "order.created"))
    assert created.body["status"] == "accepted", created.body
    updated = await woocommerce.send(body, woocommerce_headers(body, "order.updated"))
    assert updated.body["status"] == "duplicate", updated.body
    assert len(woocommerce.deliveries()) == 1
