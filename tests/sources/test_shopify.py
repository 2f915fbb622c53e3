import base64
import hashlib
import hmac
import shutil
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.shopify import ShopifyOptions, ShopifySource
from tests.support.rotation import rotating
from tests.support.stripe import REPO

SECRET = "shpss_4f1c0d9e8a7f6e5d4c3b2a10"
OLD_SECRET = "shpss_old_0123456789abcdef"
SAMPLE = REPO / "mappings" / "samples" / "shopify" / "orders-paid.json"


def source(secret_value: str | None = SECRET) -> ShopifySource:
    environ = {"SHOPIFY_CLIENT_SECRET": secret_value} if secret_value else {}
    options = ShopifyOptions.model_validate(
        {"kind": "shopify", "secret": "${SHOPIFY_CLIENT_SECRET}"}, context={"environ": environ}
    )
    return ShopifySource("shop", options)


def sign(body: bytes, secret: str = SECRET) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {
        "X-Shopify-Hmac-Sha256": sign(body, secret),
        "X-Shopify-Topic": "orders/paid",
        "X-Shopify-Event-Id": "98880550-7158-44d4-b7cd-2c97c8a091b5",
        "X-Shopify-Webhook-Id": "b54557e4-bdd9-4b37-8a5f-bf7d70bcd043",
        "X-Shopify-Triggered-At": "2026-03-04T15:15:03.123456Z",
        "X-Shopify-Shop-Domain": "example.myshopify.com",
        **extra,
    }


def request(body: bytes, sent: dict[str, str]) -> InboundRequest:
    return InboundRequest("POST", "http://bridge.test/webhooks/shop", sent, body)


def test_shopifys_published_test_vector_verifies() -> None:
    # Shopify/shopify-app-js packages/apps/shopify-api/lib/webhooks/__tests__/validate.test.ts
    # (body and HMAC) with apiSecretKey from lib/__tests__/test-config.ts.
    body = b'{"foo": "bar"}'
    sent = {
        "X-Shopify-Hmac-Sha256": "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=",
        "X-Shopify-Topic": "products/create",
        "X-Shopify-Webhook-Id": "123456789",
    }
    [event] = source("test_secret_key").verify(request(body, sent))
    assert event.type == "products/create"
    assert event.event_id == "products/create:123456789"
    assert event.payload == {"foo": "bar"}


def test_a_paid_order_is_verified_and_parsed() -> None:
    body = SAMPLE.read_bytes()
    [event] = source().verify(request(body, headers(body)))
    assert event.source == "shop"
    assert event.type == "orders/paid"
    assert event.event_id == "orders/paid:98880550-7158-44d4-b7cd-2c97c8a091b5"
    assert event.payload["total_price"] == "24.99"
    assert event.occurred_at == datetime(2026, 3, 4, 15, 15, 3, 123456, tzinfo=UTC)


@pytest.mark.parametrize(
    "name", ["X-Shopify-Hmac-SHA256", "x-shopify-hmac-sha256", "shopify-hmac-sha256"]
)
def test_every_spelling_of_the_hmac_header_is_read(name: str) -> None:
    body = SAMPLE.read_bytes()
    sent = headers(body)
    sent[name] = sent.pop("X-Shopify-Hmac-Sha256")
    assert source().verify(request(body, sent))


def test_events_deliveries_with_unprefixed_headers_are_read() -> None:
    body = SAMPLE.read_bytes()
    sent = {
        "shopify-hmac-sha256": sign(body),
        "shopify-topic": "orders/paid",
        "shopify-event-id": "evt-unprefixed-1",
        "shopify-triggered-at": "2026-03-04T15:15:03Z",
    }
    [event] = source().verify(request(body, sent))
    assert event.event_id == "orders/paid:evt-unprefixed-1"
    assert event.occurred_at == datetime(2026, 3, 4, 15, 15, 3, tzinfo=UTC)


def test_the_dedupe_id_falls_back_to_the_webhook_id_then_the_body() -> None:
    body = SAMPLE.read_bytes()
    sent = headers(body)
    del sent["X-Shopify-Event-Id"]
    [by_webhook] = source().verify(request(body, sent))
    assert by_webhook.event_id == "orders/paid:b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"
    del sent["X-Shopify-Webhook-Id"]
    [by_body] = source().verify(request(body, sent))
    assert by_body.event_id == "orders/paid:sha256:" + hashlib.sha256(body).hexdigest()


def test_one_shop_event_under_two_topics_is_two_events() -> None:
    body = SAMPLE.read_bytes()
    [paid] = source().verify(request(body, headers(body)))
    [created] = source().verify(
        request(body, headers(body, **{"X-Shopify-Topic": "orders/create"}))
    )
    assert paid.event_id != created.event_id


def test_the_old_secret_still_verifies_during_rotation() -> None:
    body = SAMPLE.read_bytes()
    both = rotating(ShopifySource, {"kind": "shopify"}, [SECRET, OLD_SECRET])
    assert both.verify(request(body, headers(body, OLD_SECRET)))
    assert both.verify(request(body, headers(body, SECRET)))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "does not match"),
        ("tampered body", "does not match"),
        ("missing header", "missing X-Shopify-Hmac-Sha256"),
        ("blank header", "missing X-Shopify-Hmac-Sha256"),
        ("not base64", "does not match"),
        ("hex instead of base64", "does not match"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body = SAMPLE.read_bytes()
    sent = headers(body)
    if case == "wrong secret":
        sent = headers(body, "shpss_someone_else")
    elif case == "tampered body":
        body = body.replace(b'"total_price": "24.99"', b'"total_price": "0.01"')
    elif case == "missing header":
        del sent["X-Shopify-Hmac-Sha256"]
    elif case == "blank header":
        sent["X-Shopify-Hmac-Sha256"] = "  "
    elif case == "not base64":
        sent["X-Shopify-Hmac-Sha256"] = "not*base64!"
    elif case == "hex instead of base64":
        sent["X-Shopify-Hmac-Sha256"] = hmac.new(SECRET.encode(), body, "sha256").hexdigest()
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, sent))
    assert refused.value.status == 401


def test_a_source_without_its_secret_is_not_ready() -> None:
    unset = source(None)
    assert not unset.ready
    assert unset.missing_secrets() == ["SHOPIFY_CLIENT_SECRET"]
    body = SAMPLE.read_bytes()
    with pytest.raises(VerificationFailed):
        unset.verify(request(body, headers(body)))


@pytest.mark.parametrize(
    ("body", "drop", "expected"),
    [
        (b"{not json", None, "not valid JSON"),
        (b"[1, 2]", None, "JSON object"),
        (b"{}", "X-Shopify-Topic", "missing X-Shopify-Topic"),
    ],
)
def test_genuine_but_unusable_requests_are_malformed(
    body: bytes, drop: str | None, expected: str
) -> None:
    sent = headers(body)
    if drop:
        del sent[drop]
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(body, sent))
    assert refused.value.status == 400


def test_a_stored_event_replays_with_its_id_and_topic() -> None:
    body = SAMPLE.read_bytes()
    [received] = source().verify(request(body, headers(body)))
    [replayed] = source().parse(received.raw)
    assert replayed.event_id == received.event_id
    assert replayed.type == received.type
    assert replayed.payload == received.payload
    assert replayed.occurred_at == received.occurred_at


def test_a_plain_body_is_tried_under_the_configured_topic() -> None:
    [event] = source().parse(SAMPLE.read_bytes())
    assert event.type == "orders/paid"
    assert event.occurred_at == datetime(2026, 3, 4, 15, 15, 2, tzinfo=UTC)  # updated_at


def test_the_example_mapping_converts_the_sample_order(tmp_path: Path) -> None:
    examples = REPO / "mappings" / "examples"
    shutil.copy(examples / "shopify-to-scanova.yaml", tmp_path)
    shutil.copy(examples / "scanova.yaml", tmp_path)
    config = load_config(tmp_path, {"SHOPIFY_CLIENT_SECRET": SECRET, "SCANOVA_API_KEY": "k"})
    assert config.warnings() == []
    body = SAMPLE.read_bytes()
    [event] = config.sources["shopify"].verify(request(body, headers(body)))
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.session_id == "550e8400-e29b-41d4-a716-446655440000"
    assert conversion.revenue is not None
    assert (conversion.revenue.minor, conversion.revenue.currency) == (2499, "USD")
    assert conversion.transaction_id == "5876543210123"
