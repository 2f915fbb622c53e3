import base64
import hashlib
import hmac
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.standard_webhooks import StandardWebhooksOptions, StandardWebhooksSource

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "standard-webhooks" / "order.paid.json"

# Published vector: standard-webhooks/standard-webhooks, libraries/python/tests/test_webhooks.py
# (test_sign_function).
VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TIMESTAMP = 1614265330
VECTOR_PAYLOAD = b'{"test": 2432232314}'
VECTOR_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
OLD_SECRET = "whsec_" + base64.b64encode(b"old-secret-old-secret-old-secret").decode()
BODY = b'{"type":"order.paid","timestamp":"2026-03-04T10:15:00Z","data":{"id":"ord_1"}}'


def source(secret: str = SECRET, **options: object) -> StandardWebhooksSource:
    parsed = StandardWebhooksOptions.model_validate(
        {"kind": "standard-webhooks", "secret": "${WH_SECRET}", **options},
        context={"environ": {"WH_SECRET": secret}},
    )
    return StandardWebhooksSource("orders", parsed)


def sign(body: bytes, secret: str, message_id: str, timestamp: int) -> str:
    """Independent of the library: HMAC-SHA256 keyed by the base64 after `whsec_`."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{message_id}.{timestamp}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def headers(
    body: bytes = BODY,
    secret: str = SECRET,
    message_id: str = "msg_2Rk9YbQm7TcX4vLp",
    timestamp: int | None = None,
    prefix: str = "webhook-",
) -> dict[str, str]:
    stamp = int(time.time()) if timestamp is None else timestamp
    return {
        f"{prefix}id": message_id,
        f"{prefix}timestamp": str(stamp),
        f"{prefix}signature": sign(body, secret, message_id, stamp),
    }


def request(body: bytes, sent: dict[str, str]) -> InboundRequest:
    lowered = {k.lower(): v for k, v in sent.items()}
    return InboundRequest("POST", "http://bridge.test/webhooks/orders", lowered, body)


def vector_headers(signature: str = VECTOR_SIGNATURE) -> dict[str, str]:
    return {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": signature,
    }


def at_vector_time(built: StandardWebhooksSource) -> StandardWebhooksSource:
    """`built`, its clock set ten seconds after the published vector was signed."""
    built.clock = lambda: VECTOR_TIMESTAMP + 10
    return built


def test_the_published_vector_is_genuine() -> None:
    """Its body has no event type, so it passes verification and is refused as unusable (400)."""
    with pytest.raises(MalformedPayload, match="no event type"):
        at_vector_time(source(VECTOR_SECRET)).verify(request(VECTOR_PAYLOAD, vector_headers()))
    [event] = source(VECTOR_SECRET).parse(b'{"type": "test", "n": 2432232314}')
    assert event.type == "test"


def test_the_published_vector_verifies_without_the_whsec_prefix_and_among_other_versions() -> None:
    # The library's test_multi_sig_payload_is_valid: unknown versions and wrong v1 entries around
    # the valid one.
    bogus = "Ceo5qEr07ixe2NLpvHk3FH9bwy/WavXrAFQ/9tdO6mc="
    header = f"v1,{bogus} v2,{bogus} {VECTOR_SIGNATURE} v1,{bogus}"
    with pytest.raises(MalformedPayload, match="no event type"):
        at_vector_time(source(VECTOR_SECRET.removeprefix("whsec_"))).verify(
            request(VECTOR_PAYLOAD, vector_headers(header))
        )


def test_the_published_invalid_signature_is_refused() -> None:
    # The library's test_invalid_signature_raises_error: one character off.
    wrong = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OA="
    with pytest.raises(VerificationFailed, match="matches"):
        at_vector_time(source(VECTOR_SECRET)).verify(request(VECTOR_PAYLOAD, vector_headers(wrong)))


def test_a_genuine_event_gets_webhook_id_type_and_time() -> None:
    [event] = source().verify(request(BODY, headers(message_id="msg_genuine")))
    assert event.event_id == "msg_genuine"
    assert event.type == "order.paid"
    assert event.source == "orders"
    assert event.raw == BODY
    assert event.payload["data"]["id"] == "ord_1"
    assert event.occurred_at == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


def test_svix_headers_are_accepted() -> None:
    [event] = source().verify(request(BODY, headers(message_id="msg_svix", prefix="svix-")))
    assert event.event_id == "msg_svix"


def test_an_old_secret_still_verifies_during_rotation() -> None:
    rotating = source(f"{SECRET},{OLD_SECRET}")
    assert rotating.verify(request(BODY, headers(secret=OLD_SECRET)))
    assert rotating.verify(request(BODY, headers(secret=SECRET)))


def test_the_sender_signing_with_old_and_new_secret_is_accepted_by_either() -> None:
    now = int(time.time())
    both = " ".join(sign(BODY, s, "msg_1", now) for s in (OLD_SECRET, SECRET))
    sent = {"webhook-id": "msg_1", "webhook-timestamp": str(now), "webhook-signature": both}
    assert source(SECRET).verify(request(BODY, sent))
    assert source(OLD_SECRET).verify(request(BODY, sent))


def test_a_signature_that_is_not_base64_does_not_hide_a_valid_one() -> None:
    sent = headers()
    sent["webhook-signature"] = "v1,@@not-base64@@ v1a,xyz " + sent["webhook-signature"]
    assert source().verify(request(BODY, sent))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "matches"),
        ("tampered body", "matches"),
        ("other webhook-id", "matches"),
        ("stale timestamp", "too old"),
        ("future timestamp", "in the future"),
        ("timestamp past the year 9999", "in the future"),
        ("missing signature header", "missing"),
        ("missing id header", "missing"),
        ("timestamp not a number", "not a unix time"),
        ("no v1 signature", "no v1 signature"),
        ("signature garbage", "no v1 signature"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body, now = BODY, int(time.time())
    sent = headers(timestamp=now)
    if case == "wrong secret":
        sent = headers(secret=OLD_SECRET)
    elif case == "tampered body":
        body = BODY.replace(b"ord_1", b"ord_2")
    elif case == "other webhook-id":
        sent["webhook-id"] = "msg_other"
    elif case == "stale timestamp":
        sent = headers(timestamp=now - 301)
    elif case == "future timestamp":
        sent = headers(timestamp=now + 301)
    elif case == "timestamp past the year 9999":  # twelve digits: no datetime can hold it
        sent = headers(timestamp=999_999_999_999)
    elif case == "missing signature header":
        del sent["webhook-signature"]
    elif case == "missing id header":
        del sent["webhook-id"]
    elif case == "timestamp not a number":
        sent["webhook-timestamp"] = "1e9"
    elif case == "no v1 signature":
        sent["webhook-signature"] = sent["webhook-signature"].replace("v1,", "v1a,")
    elif case == "signature garbage":
        sent["webhook-signature"] = "garbage"
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, sent))
    assert refused.value.status == 401


@settings(max_examples=150, deadline=None)
@given(
    message_id=st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1),
    padding=st.text(max_size=5000),
    secret=st.sampled_from([SECRET, OLD_SECRET, VECTOR_SECRET]),
)
def test_what_the_library_signs_is_genuine_at_any_size(
    message_id: str, padding: str, secret: str
) -> None:
    """Bridge computes the signature itself, in pieces that keep the GIL; signed by the
    library's own `sign`, bodies below and above hashlib's 2,048-byte threshold verify."""
    body = orjson.dumps({"type": "order.paid", "data": {"padding": padding}})
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(message_id, now, body.decode())
    sent = {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    [event] = source(secret).verify(request(body, sent))
    assert event.event_id == message_id
    tampered = body.replace(b"order.paid", b"order.void")
    with pytest.raises(VerificationFailed, match="matches"):
        source(secret).verify(request(tampered, sent))


def test_the_tolerance_is_five_minutes_by_default_and_configurable() -> None:
    two_minutes_ago = headers(timestamp=int(time.time()) - 120)
    assert source().verify(request(BODY, two_minutes_ago))
    with pytest.raises(VerificationFailed, match="too old"):
        source(tolerance_seconds=60).verify(request(BODY, two_minutes_ago))
    an_hour_ago = headers(timestamp=int(time.time()) - 3600)
    assert source(tolerance_seconds=7200).verify(request(BODY, an_hour_ago))


def test_event_type_and_time_paths_are_options() -> None:
    body = b'{"event": {"name": "deal.won", "at": 1772619300}, "payload": {}}'
    [event] = source(event_type="event.name", occurred_at="event.at").verify(
        request(body, headers(body))
    )
    assert event.type == "deal.won"
    assert event.occurred_at == datetime(2026, 3, 4, 10, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"data": {}}', "no event type"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(body: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(body, headers(body)))
    assert refused.value.status == 400


def test_a_secret_that_is_not_base64_is_refused_when_the_files_load() -> None:
    with pytest.raises(ValueError, match="not a whsec_ secret"):
        source("whsec_a")


def test_the_example_mapping_converts_the_sample(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(REPO / "mappings" / "examples" / "standard-webhooks-to-pagent.yaml", folder)
    shutil.copy(REPO / "mappings" / "pagent.yaml", folder)
    config = load_config(folder, {"STANDARD_WEBHOOKS_SECRET": SECRET, "PAGENT_API_KEY": "pk"})
    assert config.warnings() == []
    body = SAMPLE.read_bytes()
    [event] = config.sources["orders"].verify(request(body, headers(body, message_id="msg_s")))
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.session_id == "s_8f14e45fceea167a"
    assert conversion.goal_id == "0f8fad5b-d9cb-469f-a165-70867728950e"
    assert (conversion.revenue.minor, conversion.revenue.currency) == (4900, "USD")  # type: ignore[union-attr]
    assert conversion.transaction_id == "ord_2Rk9YbQm7TcX4vLp"


def test_sign_with_the_library_gives_the_published_signature_for_its_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("uuid.uuid4", lambda: type("U", (), {"hex": VECTOR_ID[4:]})())
    signed = source(VECTOR_SECRET).sign(VECTOR_PAYLOAD, "https://b.test/", VECTOR_TIMESTAMP)
    assert signed.headers == {
        "webhook-id": VECTOR_ID,
        "webhook-timestamp": str(VECTOR_TIMESTAMP),
        "webhook-signature": VECTOR_SIGNATURE,
    }


def test_each_signed_message_has_a_fresh_id() -> None:
    first, second = (source().sign(BODY, "https://b.test/", time.time()) for _ in range(2))
    assert first.headers["webhook-id"] != second.headers["webhook-id"]
