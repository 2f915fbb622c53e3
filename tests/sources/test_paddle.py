import hashlib
import hmac
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.paddle import PaddleOptions, PaddleSource
from tests.support.rotation import rotating

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "paddle" / "transaction.completed.json"

# Published vector: PaddleHQ/paddle-python-sdk, tests/Unit/Notification/test_Verifier.py (the
# same values are in paddle-php-sdk tests/Unit/Notifications/VerifierTest.php). Only the third
# secret signed it; `h1=dummy` stands for a signature by a retired key.
VECTOR_HEADER = (
    "ts=1696195954;h1=dummy;h1=d96299976a6eb066f484d7fde011ac56fc32b38fc9940bc419d6e537fdc6ef02"
)
VECTOR_BODY = b"hello-world"
VECTOR_WRONG_SECRETS = (
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_TjIG2BXbm83HPXqNfziwe506sBEdqL/4",
    "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_vB/yIOnTOCWIvpBadM5jzBZPHc7OmdSo",
)
VECTOR_SECRET = "pdl_ntf_01hbpjmytsa32fhr36nqgc3kgb_WvRO0eL4Bj9rgYYIBZY6wZhG4EHy9jzh"

SECRET = "pdl_ntfset_01hv8x0000000000000000000_aBcDeFgHiJkLmNoPqRsTuVwXyZ012345"
OLD_SECRET = "pdl_ntfset_01hv7a0000000000000000000_OldOldOldOldOldOldOldOldOldOld01"
BODY = orjson.dumps(
    {
        "event_id": "evt_01hv8x2a7b8c9d0e1f2g3h4j5k",
        "event_type": "transaction.completed",
        "occurred_at": "2026-03-04T10:18:49.738971Z",
        "notification_id": "ntf_01hv8x2ab2c3d4e5f6g7h8j9k0",
        "data": {"id": "txn_01", "custom_data": {"conductrics_vid": "v-1"}},
    }
)


def source(secret: str = SECRET, **options: object) -> PaddleSource:
    parsed = PaddleOptions.model_validate(
        {"kind": "paddle", "secret": "${PADDLE_WEBHOOK_SECRET}", **options},
        context={"environ": {"PADDLE_WEBHOOK_SECRET": secret}},
    )
    return PaddleSource("paddle", parsed)


def h1(body: bytes, secret: str, timestamp: int) -> str:
    return hmac.new(secret.encode(), f"{timestamp}:".encode() + body, hashlib.sha256).hexdigest()


def signed(body: bytes = BODY, secret: str = SECRET, timestamp: int | None = None) -> str:
    stamp = int(time.time()) if timestamp is None else timestamp
    return f"ts={stamp};h1={h1(body, secret, stamp)}"


def request(body: bytes, header: str | None) -> InboundRequest:
    headers = {} if header is None else {"paddle-signature": header}
    return InboundRequest("POST", "http://bridge.test/webhooks/paddle", headers, body)


def at_vector_time(built: PaddleSource) -> PaddleSource:
    """`built`, its clock set two seconds after the published vector was signed."""
    built.clock = lambda: 1696195954 + 2
    return built


def test_the_published_vector_is_genuine_for_the_right_secret_only() -> None:
    # The body is not a notification, so a genuine signature ends as "unusable" (400), while a
    # wrong one is refused before the body is looked at (401).
    every = rotating(PaddleSource, {"kind": "paddle"}, [*VECTOR_WRONG_SECRETS, VECTOR_SECRET])
    with pytest.raises(MalformedPayload):
        at_vector_time(every).verify(request(VECTOR_BODY, VECTOR_HEADER))
    for wrong in VECTOR_WRONG_SECRETS:
        with pytest.raises(VerificationFailed, match="no h1 signature"):
            at_vector_time(source(wrong)).verify(request(VECTOR_BODY, VECTOR_HEADER))


def test_the_published_vector_is_stale_today() -> None:
    with pytest.raises(VerificationFailed, match="too old"):
        source(VECTOR_SECRET).verify(request(VECTOR_BODY, VECTOR_HEADER))


def test_a_genuine_notification_gets_event_id_type_and_time() -> None:
    [event] = source().verify(request(BODY, signed()))
    assert event.event_id == "evt_01hv8x2a7b8c9d0e1f2g3h4j5k"
    assert event.type == "transaction.completed"
    assert event.source == "paddle"
    assert event.raw == BODY
    assert event.occurred_at == datetime(2026, 3, 4, 10, 18, 49, 738971, tzinfo=UTC)


def test_an_old_secret_still_verifies_during_rotation() -> None:
    both = rotating(PaddleSource, {"kind": "paddle"}, [SECRET, OLD_SECRET])
    assert both.verify(request(BODY, signed(secret=OLD_SECRET)))
    assert both.verify(request(BODY, signed(secret=SECRET)))


def test_paddle_signing_with_two_keys_is_accepted_by_either() -> None:
    now = int(time.time())
    header = f"ts={now};h1={h1(BODY, OLD_SECRET, now)};h1={h1(BODY, SECRET, now)}"
    assert source(SECRET).verify(request(BODY, header))
    assert source(OLD_SECRET).verify(request(BODY, header))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "no h1 signature"),
        ("tampered body", "no h1 signature"),
        ("timestamp changed", "no h1 signature"),
        ("stale timestamp", "too old"),
        ("future timestamp", "in the future"),
        ("missing header", "missing Paddle-Signature"),
        ("no timestamp", "exactly one ts="),
        ("two timestamps", "exactly one ts="),
        ("timestamp not a number", "not a unix time"),
        ("no h1", "no h1= signature"),
        ("garbage", "exactly one ts="),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body, now = BODY, int(time.time())
    header: str | None = signed(timestamp=now)
    signature = h1(BODY, SECRET, now)
    if case == "wrong secret":
        header = signed(secret=OLD_SECRET)
    elif case == "tampered body":
        body = BODY.replace(b"txn_01", b"txn_02")
    elif case == "timestamp changed":
        header = f"ts={now - 1};h1={signature}"
    elif case == "stale timestamp":
        header = signed(timestamp=now - 6)
    elif case == "future timestamp":
        header = signed(timestamp=now + 6)
    elif case == "missing header":
        header = None
    elif case == "no timestamp":
        header = f"h1={signature}"
    elif case == "two timestamps":
        header = f"ts={now};ts={now};h1={signature}"
    elif case == "timestamp not a number":
        header = f"ts=now;h1={signature}"
    elif case == "no h1":
        header = f"ts={now};h2={signature}"
    elif case == "garbage":
        header = "garbage"
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, header))
    assert refused.value.status == 401


def test_the_tolerance_is_five_seconds_by_default_and_configurable() -> None:
    a_minute_ago = signed(timestamp=int(time.time()) - 60)
    with pytest.raises(VerificationFailed, match="too old"):
        source().verify(request(BODY, a_minute_ago))
    assert source(tolerance_seconds=300).verify(request(BODY, a_minute_ago))


def test_unknown_header_keys_are_ignored() -> None:
    now = int(time.time())
    header = f"ts={now}; h1={h1(BODY, SECRET, now)}; h2=future-scheme"
    assert source().verify(request(BODY, header))


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"event_type": "transaction.completed"}', "no 'event_id'"),
        (b'{"event_id": "evt_1"}', "no 'event_type'"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(body: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(body, signed(body)))
    assert refused.value.status == 400


def test_the_example_mapping_converts_the_sample(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    examples = REPO / "mappings" / "examples"
    shutil.copy(examples / "paddle-to-conductrics.yaml", folder)
    shutil.copy(examples / "conductrics.yaml", folder)
    environ = {"PADDLE_WEBHOOK_SECRET": SECRET, "CONDUCTRICS_API_KEY": "api-key"}
    config = load_config(folder, environ)
    assert config.warnings() == []
    body = SAMPLE.read_bytes()
    [event] = config.sources["paddle"].verify(request(body, signed(body)))
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.visitor_id == "lana-123"
    assert conversion.goal_id == "g-purchase"
    # "32662" minor units of USD in details.totals.grand_total
    assert (conversion.revenue.minor, conversion.revenue.currency) == (32662, "USD")  # type: ignore[union-attr]
    assert conversion.transaction_id == "txn_01hv8wptq8987qeep44cyrewp9"


def test_sign_reproduces_the_published_vector() -> None:
    signed = source(VECTOR_SECRET).sign(VECTOR_BODY, "https://b.test/webhooks/paddle", 1696195954)
    stamp, _, signatures = VECTOR_HEADER.partition(";")
    assert signed.headers == {"Paddle-Signature": f"{stamp};{signatures.split(';')[-1]}"}
