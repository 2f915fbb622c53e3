"""Lemon Squeezy publishes no signing test vectors; signatures are made here with plain `hmac`."""

import hashlib
import hmac
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bridge.destinations.scanova import EMAIL_SHA256
from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.lemonsqueezy import LemonSqueezyOptions, LemonSqueezySource
from tests.support.rotation import rotating

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "lemonsqueezy" / "order_created.json"
SECRET = "ls-signing-secret-7f3e"
OLD_SECRET = "ls-old-secret"


def source(secret: str = SECRET) -> LemonSqueezySource:
    parsed = LemonSqueezyOptions.model_validate(
        {"kind": "lemonsqueezy", "secret": "${LEMONSQUEEZY_WEBHOOK_SECRET}"},
        context={"environ": {"LEMONSQUEEZY_WEBHOOK_SECRET": secret}},
    )
    return LemonSqueezySource("lemonsqueezy", parsed)


def signature(body: bytes, secret: str = SECRET) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request(body: bytes, header: str | None) -> InboundRequest:
    headers = {"x-event-name": "order_created"}
    if header is not None:
        headers["x-signature"] = header
    return InboundRequest("POST", "http://bridge.test/webhooks/lemonsqueezy", headers, body)


def order(**changes: object) -> dict[str, object]:
    payload: dict[str, object] = orjson.loads(SAMPLE.read_bytes())
    attributes = payload["data"]["attributes"]  # type: ignore[index]
    attributes.update(changes)
    return payload


def test_a_genuine_order_gets_its_dedupe_id_type_and_time() -> None:
    body = SAMPLE.read_bytes()
    [event] = source().verify(request(body, signature(body)))
    assert event.type == "order_created"
    assert event.event_id == "order_created:orders:1847362:2026-03-04T10:15:00.000000Z"
    assert event.source == "lemonsqueezy"
    assert event.raw == body
    assert event.payload["meta"]["custom_data"]["scanova_scan_session_id"]
    assert event.occurred_at == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


def test_a_retry_with_the_same_body_has_the_same_dedupe_id() -> None:
    body = SAMPLE.read_bytes()
    resent = orjson.dumps(orjson.loads(body))  # the same event, re-serialised
    [first] = source().verify(request(body, signature(body)))
    [second] = source().verify(request(resent, signature(resent)))
    assert first.event_id == second.event_id


def test_distinct_events_about_one_order_have_distinct_ids() -> None:
    created = orjson.dumps(order())
    refunded = orjson.dumps(
        order(status="refunded", updated_at="2026-03-09T08:00:00.000000Z")
    ).replace(b'"order_created"', b'"order_refunded"')
    ids = {source().parse(body)[0].event_id for body in (created, refunded)}
    assert len(ids) == 2


def test_test_mode_events_never_share_an_id_with_live_ones() -> None:
    live = orjson.loads(SAMPLE.read_bytes())
    test = orjson.loads(SAMPLE.read_bytes())
    test["meta"]["test_mode"] = True
    [live_event] = source().parse(orjson.dumps(live))
    [test_event] = source().parse(orjson.dumps(test))
    assert test_event.event_id == "test:" + live_event.event_id


def test_a_body_without_the_id_parts_is_deduplicated_on_its_digest() -> None:
    body = b'{"meta": {"event_name": "license_key_created"}, "data": {"type": "license-keys"}}'
    [event] = source().verify(request(body, signature(body)))
    assert event.event_id == "sha256:" + hashlib.sha256(body).hexdigest()


def test_an_old_secret_still_verifies_during_rotation() -> None:
    body = SAMPLE.read_bytes()
    both = rotating(LemonSqueezySource, {"kind": "lemonsqueezy"}, [SECRET, OLD_SECRET])
    assert both.verify(request(body, signature(body, OLD_SECRET)))
    assert both.verify(request(body, signature(body, SECRET)))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "does not match"),
        ("tampered body", "does not match"),
        ("missing header", "missing X-Signature"),
        ("empty header", "missing X-Signature"),
        ("not hex", "does not match"),
        ("upper-case prefix", "does not match"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body = SAMPLE.read_bytes()
    header: str | None = signature(body)
    if case == "wrong secret":
        header = signature(body, OLD_SECRET)
    elif case == "tampered body":
        body = body.replace(b'"total": 3190', b'"total": 1')
    elif case == "missing header":
        header = None
    elif case == "empty header":
        header = ""
    elif case == "not hex":
        header = "zz" * 32
    elif case == "upper-case prefix":
        header = f"sha256={header}"
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, header))
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"meta": {}, "data": {}}', "meta.event_name"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(body: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(body, signature(body)))
    assert refused.value.status == 400


def test_the_example_mapping_converts_the_sample_and_skips_unpaid_orders(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    examples = REPO / "mappings" / "examples"
    shutil.copy(examples / "lemonsqueezy-to-scanova.yaml", folder)
    shutil.copy(examples / "scanova.yaml", folder)
    environ = {"LEMONSQUEEZY_WEBHOOK_SECRET": SECRET, "SCANOVA_API_KEY": "sk"}
    config = load_config(folder, environ)
    assert config.warnings() == []
    body = SAMPLE.read_bytes()
    [event] = config.sources["lemonsqueezy"].verify(request(body, signature(body)))
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.session_id == "550e8400-e29b-41d4-a716-446655440000"
    assert (conversion.revenue.minor, conversion.revenue.currency) == (3190, "USD")  # type: ignore[union-attr]
    assert conversion.transaction_id == "1847362"
    assert EMAIL_SHA256.of(conversion) == hashlib.sha256(b"jane.doe@example.com").hexdigest()
    [pending] = config.sources["lemonsqueezy"].parse(orjson.dumps(order(status="pending")))
    assert [r.status for r in config.rules.evaluate(pending)] == ["skipped"]
