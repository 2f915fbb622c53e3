import base64
import hashlib
import hmac
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed, signing
from bridge.sources.hmac import HmacOptions, HmacSource
from tests.support import stripe as s
from tests.support.rotation import rotating

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "hmac" / "order.completed.json"

# Published vector: GitHub's docs, "Validating webhook deliveries" (github/docs,
# content/webhooks/using-webhooks/validating-webhook-deliveries.md).
GITHUB_SECRET = "It's a Secret to Everybody"
GITHUB_BODY = b"Hello, World!"
GITHUB_SIGNATURE = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"

# Published vector: Slack's "Verifying requests from Slack" worked example
# (docs.slack.dev/authentication/verifying-requests-from-slack): `v0:{timestamp}:{body}`.
SLACK_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
SLACK_TIMESTAMP = 1531420618
SLACK_BODY = (
    b"token=xyzz0WbapA4vBCDEFasx0q6G&team_id=T1DC2JH3J&team_domain=testteamnow&"
    b"channel_id=G8PSS9T3V&channel_name=foobar&user_id=U2CERLKJA&user_name=roadrunner&"
    b"command=%2Fwebhook-collect&text=&response_url=https%3A%2F%2Fhooks.slack.com%2F"
    b"commands%2FT1DC2JH3J%2F397700885554%2F96rGlfmibIGlgcZRskXaIFfN&"
    b"trigger_id=398738663015.47445629121.803a0bc887a14d10d2c447fce8b6703c"
)
SLACK_SIGNATURE = "v0=a2114d57b48eac39b9ad189dd8316235a7b4a8d21a10bd27519666489c69b503"

SECRET = "shop-secret-2026"
OLD_SECRET = "shop-secret-2025"
BODY = b'{"id":"evt_1","event":"order.completed","created_at":"2026-03-04T10:15:00Z","order":{}}'

GITHUB = {"header": "X-Hub-Signature-256", "prefix": "sha256=", "event_type": "event"}
SLACK = {
    "header": "X-Slack-Signature",
    "prefix": "v0=",
    "signed": "v0:{timestamp}:{body}",
    "timestamp_header": "X-Slack-Request-Timestamp",
    "event_type": {"const": "slack"},
}
STRIPE_LIKE = {
    "header": "Stripe-Signature",
    "signature_key": "v1",
    "timestamp_key": "t",
    "signed": "{timestamp}.{body}",
    "event_id": "id",
    "event_type": "type",
}


def source(secret: str = SECRET, /, **options: Any) -> HmacSource:
    parsed = HmacOptions.model_validate(
        {"kind": "hmac", "secret": "${HMAC_SECRET}", **(options or GITHUB)},
        context={"environ": {"HMAC_SECRET": secret}},
    )
    return HmacSource("shop", parsed)


def github_signature(body: bytes, secret: str = SECRET) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def request(body: bytes, headers: dict[str, str]) -> InboundRequest:
    lowered = {k.lower(): v for k, v in headers.items()}
    return InboundRequest("POST", "http://bridge.test/webhooks/shop", lowered, body)


def github_request(body: bytes = BODY, secret: str = SECRET, /, **headers: str) -> InboundRequest:
    return request(body, {"X-Hub-Signature-256": github_signature(body, secret), **headers})


def test_githubs_published_vector_is_genuine() -> None:
    """Its body is not JSON, so a genuine signature ends as unusable (400), a wrong one as 401."""
    sent = {"X-Hub-Signature-256": GITHUB_SIGNATURE}
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        source(GITHUB_SECRET, **GITHUB).verify(request(GITHUB_BODY, sent))
    with pytest.raises(VerificationFailed):
        source(GITHUB_SECRET, **GITHUB).verify(request(b"Hello, World?", sent))


def test_slacks_published_timestamped_vector_is_genuine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(signing, "time", SimpleNamespace(time=lambda: SLACK_TIMESTAMP + 30))
    sent = {"X-Slack-Signature": SLACK_SIGNATURE, "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP)}
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        source(SLACK_SECRET, **SLACK).verify(request(SLACK_BODY, sent))
    moved = {**sent, "X-Slack-Request-Timestamp": str(SLACK_TIMESTAMP + 1)}
    with pytest.raises(VerificationFailed, match="matches"):
        source(SLACK_SECRET, **SLACK).verify(request(SLACK_BODY, moved))


def test_a_stripe_style_header_signed_by_stripes_library_verifies() -> None:
    raw = s.body(s.event("invoice.paid", event_id="evt_hmac_stripe"))
    sent = {"Stripe-Signature": s.signature(raw, SECRET)}
    [event] = source(**STRIPE_LIKE).verify(request(raw, sent))
    assert (event.event_id, event.type) == ("evt_hmac_stripe", "invoice.paid")
    stale = {"Stripe-Signature": s.signature(raw, SECRET, int(time.time()) - 301)}
    with pytest.raises(VerificationFailed, match="too old"):
        source(**STRIPE_LIKE).verify(request(raw, stale))
    future = {"Stripe-Signature": s.signature(raw, SECRET, int(time.time()) + 301)}
    with pytest.raises(VerificationFailed, match="in the future"):
        source(**STRIPE_LIKE).verify(request(raw, future))


def test_a_genuine_event_gets_id_type_and_time_from_the_configured_places() -> None:
    [event] = source(**GITHUB, event_id="id", occurred_at="created_at").verify(github_request())
    assert event.event_id == "evt_1"
    assert event.type == "order.completed"
    assert event.source == "shop"
    assert event.raw == BODY
    assert event.occurred_at == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


def test_without_an_event_id_the_body_digest_deduplicates() -> None:
    [event] = source().verify(github_request())
    assert event.event_id == "sha256:" + hashlib.sha256(BODY).hexdigest()


def test_event_id_and_type_may_come_from_headers_or_a_constant() -> None:
    options = {
        **GITHUB,
        "event_id": {"header": "X-GitHub-Delivery"},
        "event_type": {"header": "X-GitHub-Event"},
    }
    sent = github_request(**{"X-GitHub-Delivery": "72d3162e-cc78", "X-GitHub-Event": "push"})
    [event] = source(**options).verify(sent)
    assert (event.event_id, event.type) == ("72d3162e-cc78", "push")
    [constant] = source(**{**GITHUB, "event_type": {"const": "order"}}).verify(github_request())
    assert constant.type == "order"
    with pytest.raises(MalformedPayload, match="X-GitHub-Delivery"):
        source(**options).verify(github_request(**{"X-GitHub-Event": "push"}))


def test_an_old_secret_still_verifies_during_rotation() -> None:
    both = rotating(HmacSource, {"kind": "hmac", **GITHUB}, [SECRET, OLD_SECRET])
    assert both.verify(github_request(BODY, OLD_SECRET))
    assert both.verify(github_request(BODY, SECRET))


def test_several_signatures_in_one_header_any_may_match() -> None:
    both = f"{github_signature(BODY, OLD_SECRET)}, {github_signature(BODY, SECRET)}"
    assert source().verify(request(BODY, {"X-Hub-Signature-256": both}))


@pytest.mark.parametrize(
    ("algorithm", "encoding"),
    [("sha1", "hex"), ("sha256", "base64"), ("sha512", "hex"), ("sha512", "base64")],
)
def test_algorithm_and_encoding_are_options(algorithm: str, encoding: str) -> None:
    raw = hmac.new(SECRET.encode(), BODY, algorithm).digest()
    text = raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()
    options = {"header": "X-Signature", "algorithm": algorithm, "encoding": encoding}
    assert source(**options, event_type="event").verify(request(BODY, {"X-Signature": text}))
    other = "sha256" if algorithm != "sha256" else "sha512"
    wrong = hmac.new(SECRET.encode(), BODY, other).digest()
    wrong_text = wrong.hex() if encoding == "hex" else base64.b64encode(wrong).decode()
    with pytest.raises(VerificationFailed):
        source(**options, event_type="event").verify(request(BODY, {"X-Signature": wrong_text}))


def test_a_hex_encoded_key_is_decoded() -> None:
    key = bytes(range(32))
    signature = hmac.new(key, BODY, hashlib.sha256).hexdigest()
    options = {"header": "X-Signature", "key_encoding": "hex", "event_type": "event"}
    assert source(key.hex(), **options).verify(request(BODY, {"X-Signature": signature}))


def test_milliseconds_timestamps_and_their_window() -> None:
    options = {
        "header": "X-Signature",
        "signed": "{timestamp}{body}",
        "timestamp_header": "X-Timestamp",
        "timestamp_unit": "milliseconds",
        "tolerance_seconds": 60,
        "event_type": "event",
    }

    def sent(stamp: int) -> dict[str, str]:
        digest = hmac.new(SECRET.encode(), str(stamp).encode() + BODY, hashlib.sha256)
        return {"X-Signature": digest.hexdigest(), "X-Timestamp": str(stamp)}

    now_ms = int(time.time() * 1000)
    assert source(**options).verify(request(BODY, sent(now_ms)))
    with pytest.raises(VerificationFailed, match="too old"):
        source(**options).verify(request(BODY, sent(now_ms - 61_000)))
    with pytest.raises(VerificationFailed, match="in the future"):
        source(**options).verify(request(BODY, sent(now_ms + 61_000)))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "matches"),
        ("tampered body", "matches"),
        ("missing header", "missing X-Hub-Signature-256"),
        ("no prefix", "no signature found"),
        ("prefix only", "no signature found"),
        ("not hex", "matches"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body = BODY
    headers = {"X-Hub-Signature-256": github_signature(BODY)}
    if case == "wrong secret":
        headers = {"X-Hub-Signature-256": github_signature(BODY, OLD_SECRET)}
    elif case == "tampered body":
        body = BODY.replace(b"evt_1", b"evt_2")
    elif case == "missing header":
        headers = {}
    elif case == "no prefix":
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].removeprefix("sha256=")
    elif case == "prefix only":
        headers["X-Hub-Signature-256"] = "sha256="
    elif case == "not hex":
        headers["X-Hub-Signature-256"] = "sha256=" + "zz" * 32
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, headers))
    assert refused.value.status == 401


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing timestamp", "missing timestamp"),
        ("timestamp not a number", "not a unix time"),
        ("stale", "too old"),
        ("future", "in the future"),
    ],
)
def test_timestamped_requests_outside_the_rules_are_refused(case: str, expected: str) -> None:
    now = int(time.time())
    stamp = {"stale": now - 301, "future": now + 301}.get(case, now)
    raw = s.body(s.event("invoice.paid"))
    header = s.signature(raw, SECRET, stamp)
    if case == "missing timestamp":
        header = header.split(",", 1)[1]
    elif case == "timestamp not a number":
        header = header.replace(f"t={stamp}", "t=soon")
    with pytest.raises(VerificationFailed, match=expected):
        source(**STRIPE_LIKE).verify(request(raw, {"Stripe-Signature": header}))


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        ({**GITHUB, "signed": "{timestamp}.{body}"}, "exactly one of timestamp_header"),
        ({**GITHUB, "timestamp_header": "X-Timestamp"}, "proves nothing"),
        ({**GITHUB, "signed": "{body}.{nonce}"}, "unknown placeholder"),
        ({**GITHUB, "signed": "{timestamp}"}, "{body} exactly once"),
        ({**GITHUB, "prefix": "sha256= "}, "cannot contain"),
        ({**GITHUB, "algorithm": "md5"}, "algorithm"),
        ({"header": "X-Signature"}, "event_type"),
    ],
)
def test_inconsistent_options_are_refused_when_the_files_load(
    options: dict[str, Any], expected: str
) -> None:
    with pytest.raises(ValidationError, match=expected):
        source(**options)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"[1, 2]", "JSON object"),
        (b'{"id": "evt_1"}', "no event type at 'event'"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(body: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(github_request(body))
    assert refused.value.status == 400


def test_the_example_mapping_converts_the_sample(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(REPO / "mappings" / "examples" / "hmac-to-pagent.yaml", folder)
    shutil.copy(REPO / "mappings" / "pagent.yaml", folder)
    config = load_config(folder, {"SHOP_WEBHOOK_SECRET": SECRET, "PAGENT_API_KEY": "pk"})
    assert config.warnings() == []
    body = SAMPLE.read_bytes()
    [event] = config.sources["shop"].verify(github_request(body))
    assert (event.event_id, event.type) == ("evt_0c3f7a9e21b84d6a", "order.completed")
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.session_id == "s_8f14e45fceea167a"
    # "49.90" EUR, a decimal string in major units, is exactly 4990 cents
    assert (conversion.revenue.minor, conversion.revenue.currency) == (4990, "EUR")  # type: ignore[union-attr]
    assert conversion.transaction_id == "1042"
