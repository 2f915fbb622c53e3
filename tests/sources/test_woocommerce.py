import base64
import hashlib
import hmac
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.woocommerce import WooCommerceOptions, WooCommerceSource
from tests.support.rotation import rotating
from tests.support.stripe import REPO

SECRET = "v[J+x;8=Ku}o@wz0M&$Q`hP)4b*S1w"
OLD_SECRET = "old-woo-secret-0123456789"
SAMPLE = REPO / "mappings" / "samples" / "woocommerce" / "order.updated.json"


def source(secret_value: str | None = SECRET) -> WooCommerceSource:
    environ = {"WOOCOMMERCE_WEBHOOK_SECRET": secret_value} if secret_value else {}
    options = WooCommerceOptions.model_validate(
        {"kind": "woocommerce", "secret": "${WOOCOMMERCE_WEBHOOK_SECRET}"},
        context={"environ": environ},
    )
    return WooCommerceSource("woo", options)


def sign(body: bytes, secret: str = SECRET) -> str:
    """What WC_Webhook::generate_signature sends: base64 of the raw HMAC-SHA256."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def headers(body: bytes, secret: str = SECRET, **extra: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-WC-Webhook-Source": "https://shop.example/",
        "X-WC-Webhook-Topic": "order.updated",
        "X-WC-Webhook-Resource": "order",
        "X-WC-Webhook-Event": "updated",
        "X-WC-Webhook-Signature": sign(body, secret),
        "X-WC-Webhook-ID": "12",
        "X-WC-Webhook-Delivery-ID": "bd4dd8a1d4a0a5d1b8f0c1e6d8a5a3f2",
        **extra,
    }


def request(body: bytes, sent: dict[str, str]) -> InboundRequest:
    return InboundRequest("POST", "http://bridge.test/webhooks/woo", sent, body)


def order(**fields: object) -> bytes:
    payload = orjson.loads(SAMPLE.read_bytes())
    payload.update(fields)
    return orjson.dumps(payload)


def test_a_signed_order_is_verified_and_parsed() -> None:
    body = SAMPLE.read_bytes()
    [event] = source().verify(request(body, headers(body)))
    assert event.source == "woo"
    assert event.type == "order.updated"
    assert event.event_id == "order.updated:4711:sha256:" + hashlib.sha256(body).hexdigest()
    assert event.payload["total"] == "24.99"
    assert event.occurred_at == datetime(2026, 3, 4, 10, 15, 2, tzinfo=UTC)  # date_modified_gmt


def test_the_creation_ping_is_answered_and_records_nothing() -> None:
    ping = InboundRequest(
        "POST",
        "http://bridge.test/webhooks/woo",
        {"Content-Type": "application/x-www-form-urlencoded"},
        b"webhook_id=12",
    )
    assert source().verify(ping) == []


@pytest.mark.parametrize("body", [b"webhook_id=12&total=0", b"webhook_id=abc", b"{}", b""])
def test_anything_else_unsigned_is_refused(body: bytes) -> None:
    with pytest.raises(VerificationFailed, match="missing X-WC-Webhook-Signature"):
        source().verify(request(body, {}))


def test_the_delivery_id_is_not_the_dedupe_id() -> None:
    """WooCommerce derives it from the webhook id and the current second, not the order."""
    body = SAMPLE.read_bytes()
    [first] = source().verify(request(body, headers(body)))
    resent = headers(body, **{"X-WC-Webhook-Delivery-ID": "0e3c1a6f0d0e4b7aa2b4b6fd6a2f1c77"})
    [again] = source().verify(request(body, resent))
    assert again.event_id == first.event_id
    other = order(id=4712, number="4712")
    [different] = source().verify(request(other, headers(other)))
    assert different.event_id != first.event_id


def test_a_changed_order_is_a_new_event() -> None:
    processing = order(status="processing")
    completed = order(status="completed", date_modified_gmt="2026-03-04T10:20:00")
    [one] = source().verify(request(processing, headers(processing)))
    [two] = source().verify(request(completed, headers(completed)))
    assert one.event_id != two.event_id


def test_the_topic_is_rebuilt_from_resource_and_event_when_missing() -> None:
    body = SAMPLE.read_bytes()
    sent = headers(body)
    del sent["X-WC-Webhook-Topic"]
    [event] = source().verify(request(body, sent))
    assert event.type == "order.updated"


def test_the_old_secret_still_verifies_during_rotation() -> None:
    body = SAMPLE.read_bytes()
    both = rotating(WooCommerceSource, {"kind": "woocommerce"}, [SECRET, OLD_SECRET])
    assert both.verify(request(body, headers(body, OLD_SECRET)))
    assert both.verify(request(body, headers(body, SECRET)))


def test_a_secret_with_commas_is_one_secret() -> None:
    """WooCommerce's default secret (wp_generate_password(50, true, true)) often holds a comma:
    the genuine signature verifies, and a signature keyed with a piece of it does not."""
    secret = "k,Q9]x2V;m&Wd,4p@-nT!ys0(8jGh*=E_bl|A^z?r~u%c>L<fK{Mo"
    body = SAMPLE.read_bytes()
    assert source(secret).verify(request(body, headers(body, secret)))
    for piece in secret.split(","):
        with pytest.raises(VerificationFailed):
            source(secret).verify(request(body, headers(body, piece)))


def test_a_secret_stored_with_html_entities_is_keyed_like_wordpress_does() -> None:
    """generate_signature() keys with wp_specialchars_decode(secret, ENT_QUOTES)."""
    body = SAMPLE.read_bytes()
    assert source("a&amp;b&#039;c").verify(request(body, headers(body, "a&b'c")))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "does not match"),
        ("tampered body", "does not match"),
        ("missing header", "missing X-WC-Webhook-Signature"),
        ("not base64", "does not match"),
        ("hex instead of base64", "does not match"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body = SAMPLE.read_bytes()
    sent = headers(body)
    if case == "wrong secret":
        sent = headers(body, "someone-else")
    elif case == "tampered body":
        body = body.replace(b'"total": "24.99"', b'"total": "0.01"')
    elif case == "missing header":
        del sent["X-WC-Webhook-Signature"]
    elif case == "not base64":
        sent["X-WC-Webhook-Signature"] = "%%%"
    elif case == "hex instead of base64":
        sent["X-WC-Webhook-Signature"] = hmac.new(SECRET.encode(), body, "sha256").hexdigest()
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, sent))
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("body", "expected"), [(b"{not json", "not valid JSON"), (b"[1]", "JSON object")]
)
def test_genuine_but_unusable_bodies_are_malformed(body: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(body, headers(body)))
    assert refused.value.status == 400


def test_a_source_without_its_secret_is_not_ready() -> None:
    unset = source(None)
    assert not unset.ready
    assert unset.missing_secrets() == ["WOOCOMMERCE_WEBHOOK_SECRET"]


def test_a_stored_event_replays_with_its_id_and_topic() -> None:
    body = SAMPLE.read_bytes()
    sent = headers(body, **{"X-WC-Webhook-Topic": "order.created"})
    [received] = source().verify(request(body, sent))
    [replayed] = source().parse(received.raw)
    assert (replayed.event_id, replayed.type) == (received.event_id, "order.created")
    assert replayed.payload == received.payload


def test_the_example_mapping_converts_the_sample_order(tmp_path: Path) -> None:
    shutil.copy(REPO / "mappings" / "examples" / "woocommerce-to-pagent.yaml", tmp_path)
    shutil.copy(REPO / "mappings" / "pagent.yaml", tmp_path)
    environ = {"WOOCOMMERCE_WEBHOOK_SECRET": SECRET, "PAGENT_API_KEY": "pk"}
    config = load_config(tmp_path, environ)
    assert config.warnings() == []
    body = SAMPLE.read_bytes()
    [event] = config.sources["woocommerce"].verify(request(body, headers(body)))
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.session_id == "s_8f14e45fceea167a"
    assert conversion.goal_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert conversion.revenue is not None
    assert (conversion.revenue.minor, conversion.revenue.currency) == (2499, "EUR")
    assert conversion.transaction_id == "4711"
    pending = order(status="pending")
    [unpaid] = config.sources["woocommerce"].verify(request(pending, headers(pending)))
    [skipped] = config.rules.evaluate(unpaid)
    assert skipped.status == "skipped"
