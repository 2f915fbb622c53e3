import hashlib
import hmac
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.close import CloseOptions, CloseSource
from tests.support.rotation import rotating

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "close" / "opportunity.updated.json"
KEY = "5f2b9c1e8a7d4f3b6e0c9a1d2b3c4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5"
OLD_KEY = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
URL = "https://bridge.example.com/webhooks/close"

# A published vector: thermondo/closeio, tests/djangoapp/test_utils.py (verifier in
# closeio/contrib/django/utils.py, after the "Webhook signatures" section of Close's API docs).
VECTOR_KEY = "b9260244ef33625f9b4b26a27db08758cdd39478b852c73f2d33ab042eb8abb4"
VECTOR_TIMESTAMP = 1557751596
VECTOR_HASH = "e6cf27a55de463dc46d8b5c16d2afe74d766e8f0c9892422c93573521cd377ed"
VECTOR_BODY = (
    b'{"event": {"id": "ev_4YUAT9G7PQNYEX0V7HpiZa", '
    b'"date_created": "2019-01-01T13:33:00.842000", "data": {"object_type": '
    b'"activity.note", "action": "created", "note": "test content"}}, '
    b'"subscription_id": "whsub_mBTylJxRXaBOXcuQmgUdmL"}'
)


def source(key: str | None = KEY, clock: float | None = None, tolerance: int = 300) -> CloseSource:
    environ = {"CLOSE_WEBHOOK_SIGNATURE_KEY": key} if key else {}
    options = CloseOptions.model_validate(
        {
            "kind": "close",
            "secret": "${CLOSE_WEBHOOK_SIGNATURE_KEY}",
            "tolerance_seconds": tolerance,
        },
        context={"environ": environ},
    )
    built = CloseSource("close", options)
    if clock is not None:
        built.clock = lambda: clock
    return built


def signed(body: bytes, key: str = KEY, timestamp: int | None = None) -> dict[str, str]:
    """Headers as Close sends them, computed independently of the module under test."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(bytes.fromhex(key), stamp.encode() + body, hashlib.sha256).hexdigest()
    return {"close-sig-hash": digest, "close-sig-timestamp": stamp}


def request(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest("POST", URL, headers, body)


def test_the_published_vector_verifies() -> None:
    headers = {"close-sig-hash": VECTOR_HASH, "close-sig-timestamp": str(VECTOR_TIMESTAMP)}
    # The signature is accepted: the vector's event keeps object_type inside data, so the body
    # is refused as unusable (400), not as forged (401).
    with pytest.raises(MalformedPayload, match="no 'object_type'"):
        source(VECTOR_KEY, clock=VECTOR_TIMESTAMP).verify(request(VECTOR_BODY, headers))
    with pytest.raises(VerificationFailed, match="does not match"):
        source(KEY, clock=VECTOR_TIMESTAMP).verify(request(VECTOR_BODY, headers))


def test_a_genuine_event_is_verified_and_parsed() -> None:
    body = SAMPLE.read_bytes()
    [event] = source().verify(request(body, signed(body)))
    assert event.event_id == "ev_6yJ2HDk3Ql0JdC8Yb1Ja0V"
    assert event.type == "opportunity.updated"
    assert event.source == "close"
    assert event.raw == body
    assert event.payload["event"]["data"]["status_type"] == "won"
    assert event.occurred_at == datetime(2026, 3, 14, 9, 21, 7, 512000, tzinfo=UTC)


def test_an_old_key_still_verifies_while_a_subscription_is_replaced() -> None:
    body = SAMPLE.read_bytes()
    both = rotating(CloseSource, {"kind": "close"}, [KEY, OLD_KEY])
    assert both.verify(request(body, signed(body, OLD_KEY)))
    assert both.verify(request(body, signed(body, KEY)))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong key", "does not match"),
        ("tampered body", "does not match"),
        ("stale timestamp", "too old"),
        ("future timestamp", "too far in the future"),
        ("malformed hash", "does not match"),
        ("timestamp not a number", "not unix seconds"),
        ("missing hash", "missing close-sig-hash"),
        ("missing timestamp", "missing close-sig-timestamp"),
        ("signed with another timestamp", "does not match"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body = SAMPLE.read_bytes()
    now = int(time.time())
    headers = signed(body)
    if case == "wrong key":
        headers = signed(body, OLD_KEY)
    elif case == "tampered body":
        body = body.replace(b"125000", b"100")
    elif case == "stale timestamp":
        headers = signed(body, timestamp=now - 301)
    elif case == "future timestamp":
        headers = signed(body, timestamp=now + 301)
    elif case == "malformed hash":
        headers["close-sig-hash"] = "zz-not-hex"
    elif case == "timestamp not a number":
        headers["close-sig-timestamp"] = "yesterday"
    elif case == "missing hash":
        del headers["close-sig-hash"]
    elif case == "missing timestamp":
        del headers["close-sig-timestamp"]
    elif case == "signed with another timestamp":
        headers["close-sig-timestamp"] = str(now - 5)
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, headers))
    assert refused.value.status == 401


def test_tolerance_is_configurable() -> None:
    body = SAMPLE.read_bytes()
    headers = signed(body, timestamp=int(time.time()) - 120)
    assert source().verify(request(body, headers))
    with pytest.raises(VerificationFailed, match="too old"):
        source(tolerance=60).verify(request(body, headers))


def test_a_key_that_is_not_hex_is_a_configuration_error() -> None:
    with pytest.raises(ValueError, match="hex signature_key"):
        source("not-a-hex-key")


def test_a_source_without_its_key_is_not_ready() -> None:
    unset = source(None)
    assert not unset.ready
    assert unset.missing_secrets() == ["CLOSE_WEBHOOK_SIGNATURE_KEY"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"subscription_id": "whsub_1"}', "'event' object"),
        (b'{"event": {"object_type": "lead", "action": "created"}}', "no 'id'"),
        (b'{"event": {"id": "ev_1", "object_type": "lead"}}', "no 'action'"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(raw: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(raw, signed(raw)))
    assert refused.value.status == 400


def test_the_example_converts_the_won_opportunity(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(REPO / "mappings" / "examples" / "close-to-pagent.yaml", folder)
    shutil.copy(REPO / "mappings" / "pagent.yaml", folder)
    config = load_config(folder, {"CLOSE_WEBHOOK_SIGNATURE_KEY": KEY, "PAGENT_API_KEY": "pk"})
    assert config.warnings() == []
    [event] = config.sources["close"].parse(SAMPLE.read_bytes())
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert (conversion.session_id, conversion.user_id) == (
        "sess_8f14e45fceea167a",
        "usr_c9f0f895fb98ab91",
    )
    assert conversion.goal_id == "2f1b7a3e-6d0c-4c55-9a0e-3b8f5e7d9c21"
    assert conversion.transaction_id == "oppo_8eB77gAdf8FMy6GsNHEy84f7uoeEWv55slvUjKQZpJt"
    assert conversion.revenue is not None
    assert (conversion.revenue.minor, conversion.revenue.currency) == (125000, "USD")


def test_the_example_ignores_updates_to_an_opportunity_already_won(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    shutil.copy(REPO / "mappings" / "examples" / "close-to-pagent.yaml", folder)
    shutil.copy(REPO / "mappings" / "pagent.yaml", folder)
    config = load_config(folder, {"CLOSE_WEBHOOK_SIGNATURE_KEY": KEY, "PAGENT_API_KEY": "pk"})
    body = SAMPLE.read_bytes().replace(b'"status_type": "active"', b'"status_type": "won"')
    [event] = config.sources["close"].parse(body)
    assert [r.status for r in config.rules.evaluate(event)] == ["skipped"]


def test_sign_reproduces_the_published_vector() -> None:
    signed = source(VECTOR_KEY).sign(VECTOR_BODY, URL, VECTOR_TIMESTAMP)
    assert signed.headers == {
        "close-sig-hash": VECTOR_HASH,
        "close-sig-timestamp": str(VECTOR_TIMESTAMP),
    }
