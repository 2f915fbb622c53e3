import base64
import hashlib
import hmac
import shutil
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.hubspot import HubSpotOptions, HubSpotSource, v3_uri
from bridge.sources.signing import body_digest
from tests.support.rotation import rotating

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "mappings" / "samples" / "hubspot"
SECRET = "4d1c8f0e-7b2a-4c9d-9e51-2a6f3b8c0d17"
OLD_SECRET = "0a9b8c7d-6e5f-4a3b-2c1d-0e9f8a7b6c5d"
URL = "https://bridge.example.com/webhooks/hubspot"

# Published vectors: HubSpot/hubspot-api-python, tests/spec/utils/test_signature.py.
VECTOR_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
VECTOR_BODY = b"{'example_field':'example_value'}"
VECTOR_URL = "https://www.example.com/webhook_uri"
VECTOR_TIMESTAMP_MS = 15000000
VECTOR_V1 = "69fc6631a867edd4f9e9e627fc5c1148e3fbdd8b21837b6d2b8901c1fa57f750"
VECTOR_V2 = "4fe4e3a7d3cf09db53be39d0a58130e2aaba074ec123a9e355b876a689a1c383"
VECTOR_V2_GET = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
VECTOR_V3 = "HPW73RUtKmcYoEDADG0s6MmGFWUzWJKAW07r8RDgcQw="


def source(
    secret: str | None = SECRET, clock: float | None = None, **options: Any
) -> HubSpotSource:
    environ = {"HUBSPOT_CLIENT_SECRET": secret} if secret else {}
    validated = HubSpotOptions.model_validate(
        {"kind": "hubspot", "secret": "${HUBSPOT_CLIENT_SECRET}", **options},
        context={"environ": environ},
    )
    built = HubSpotSource("hubspot", validated)
    if clock is not None:
        built.clock = lambda: clock
    return built


def v3_headers(
    body: bytes,
    *,
    secret: str = SECRET,
    url: str = URL,
    method: str = "POST",
    timestamp_ms: int | None = None,
) -> dict[str, str]:
    """Signed the way HubSpot documents v3, independently of the module under test."""
    stamp = str(int(time.time() * 1000) if timestamp_ms is None else timestamp_ms)
    message = method.encode() + url.encode() + body + stamp.encode()
    signature = base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest())
    return {
        "x-hubspot-signature-v3": signature.decode(),
        "x-hubspot-request-timestamp": stamp,
        "content-type": "application/json",
    }


def request(
    body: bytes, headers: dict[str, str], url: str = URL, method: str = "POST"
) -> InboundRequest:
    return InboundRequest(method, url, headers, body)


def subscription_body() -> bytes:
    return (SAMPLES / "deal.propertyChange.json").read_bytes()


def workflow_body() -> bytes:
    return (SAMPLES / "workflow.deal-won.json").read_bytes()


# HubSpot's published vectors ---------------------------------------------------------------


def test_the_published_v3_vector_verifies() -> None:
    hubspot = source(VECTOR_SECRET, clock=VECTOR_TIMESTAMP_MS / 1000)
    headers = {
        "x-hubspot-signature-v3": VECTOR_V3,
        "x-hubspot-request-timestamp": str(VECTOR_TIMESTAMP_MS),
    }
    # The signature is accepted; the vector's body is not JSON, so it is a 400, not a 401.
    with pytest.raises(MalformedPayload, match="not valid JSON"):
        hubspot.verify(request(VECTOR_BODY, headers, VECTOR_URL))
    with pytest.raises(VerificationFailed):
        source(SECRET, clock=VECTOR_TIMESTAMP_MS / 1000).verify(
            request(VECTOR_BODY, headers, VECTOR_URL)
        )


@pytest.mark.parametrize(
    ("version", "method", "body", "signature"),
    [
        ("v1", "POST", VECTOR_BODY, VECTOR_V1),
        ("v2", "POST", VECTOR_BODY, VECTOR_V2),
        ("v2", "GET", b"", VECTOR_V2_GET),
    ],
)
def test_the_published_legacy_vectors_verify_when_enabled(
    version: str, method: str, body: bytes, signature: str
) -> None:
    headers = {"x-hubspot-signature": signature, "x-hubspot-signature-version": version}
    enabled = source(VECTOR_SECRET, signature_versions=["v3", version])
    with pytest.raises(MalformedPayload):
        enabled.verify(request(body, headers, VECTOR_URL, method))
    with pytest.raises(VerificationFailed, match=f"signed {version}"):
        source(VECTOR_SECRET).verify(request(body, headers, VECTOR_URL, method))


# v3 ------------------------------------------------------------------------------------------


def test_each_event_of_a_subscription_batch_is_its_own_event() -> None:
    body = subscription_body()
    events = source().verify(request(body, v3_headers(body)))
    assert [e.type for e in events] == ["deal.propertyChange", "deal.propertyChange"]
    first = orjson.loads(body)[0]
    assert events[0].event_id == "62515:2876543:3816279340:18345678901:1773480067512:dealstage"
    assert events[1].event_id.endswith(":amount")
    assert events[0].raw == orjson.dumps(first)
    assert events[0].payload == first
    assert events[0].source == "hubspot"
    assert events[0].occurred_at == datetime(2026, 3, 14, 9, 21, 7, 512000, tzinfo=UTC)


def test_a_retry_has_the_same_dedupe_id_though_attempt_number_changes() -> None:
    [item, _] = orjson.loads(subscription_body())
    retried = orjson.dumps([{**item, "attemptNumber": 3}])
    [event] = source().parse(retried)
    [original] = source().parse(orjson.dumps([item]))
    assert event.event_id == original.event_id


def test_a_workflow_webhook_is_one_event_keyed_by_its_body() -> None:
    body = workflow_body()
    [event] = source().verify(request(body, v3_headers(body)))
    assert event.type == "workflow.webhook"
    assert event.event_id == body_digest(body)
    assert event.payload["amount"] == "1250.00"
    assert event.raw == body


def test_a_workflow_dedupe_id_can_come_from_the_body() -> None:
    hubspot = source(workflow_id_path="hs_object_id", workflow_event_type="deal.won")
    [event] = hubspot.parse(workflow_body())
    assert (event.event_id, event.type) == ("18345678901", "deal.won")
    with pytest.raises(MalformedPayload, match="workflow_id_path"):
        hubspot.parse(b'{"dealstage": "closedwon"}')


def test_an_empty_batch_is_a_genuine_request_with_nothing_to_record() -> None:
    assert source().verify(request(b"[]", v3_headers(b"[]"))) == []


def test_an_old_secret_still_verifies_during_rotation() -> None:
    body = subscription_body()
    both = rotating(HubSpotSource, {"kind": "hubspot"}, [SECRET, OLD_SECRET])
    assert both.verify(request(body, v3_headers(body, secret=OLD_SECRET)))
    assert both.verify(request(body, v3_headers(body, secret=SECRET)))


def test_public_url_restores_the_url_hubspot_called() -> None:
    body = workflow_body()
    headers = v3_headers(body, url="https://bridge.example.com/crm/webhooks/hubspot?portal=1")
    seen = "http://10.0.3.7:8080/webhooks/hubspot?portal=1"
    with pytest.raises(VerificationFailed, match="public_url"):
        source().verify(request(body, headers, seen))
    proxied = source(public_url="https://bridge.example.com/crm/")
    assert proxied.verify(request(body, headers, seen))


def test_the_uri_is_signed_with_hubspots_escapes_decoded() -> None:
    assert v3_uri("https://h.test/w?a=b%3Ac%2Fd%20e%2a") == "https://h.test/w?a=b:c/d%20e*"
    body = workflow_body()
    headers = v3_headers(body, url="https://h.test/webhooks/hubspot?x=a:b")
    assert source().verify(request(body, headers, "https://h.test/webhooks/hubspot?x=a%3Ab"))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "does not match"),
        ("tampered body", "does not match"),
        ("other method", "does not match"),
        ("stale timestamp", "too old"),
        ("future timestamp", "too far in the future"),
        ("malformed signature", "does not match"),
        ("missing signature", "missing X-HubSpot-Signature-v3"),
        ("missing timestamp", "missing X-HubSpot-Request-Timestamp"),
        ("timestamp in seconds text", "not unix milliseconds"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    body = subscription_body()
    now_ms = int(time.time() * 1000)
    headers = v3_headers(body)
    method = "POST"
    if case == "wrong secret":
        headers = v3_headers(body, secret=OLD_SECRET)
    elif case == "tampered body":
        body = body.replace(b"closedwon", b"closedlost")
    elif case == "other method":
        method = "PUT"
    elif case == "stale timestamp":
        headers = v3_headers(body, timestamp_ms=now_ms - 301_000)
    elif case == "future timestamp":
        headers = v3_headers(body, timestamp_ms=now_ms + 301_000)
    elif case == "malformed signature":
        headers["x-hubspot-signature-v3"] = "not base64!"
    elif case == "missing signature":
        del headers["x-hubspot-signature-v3"]
    elif case == "missing timestamp":
        del headers["x-hubspot-request-timestamp"]
    elif case == "timestamp in seconds text":
        headers["x-hubspot-request-timestamp"] = "1.7e12"
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(body, headers, method=method))
    assert refused.value.status == 401


def test_tolerance_is_configurable() -> None:
    body = workflow_body()
    headers = v3_headers(body, timestamp_ms=int(time.time() * 1000) - 120_000)
    assert source().verify(request(body, headers))
    with pytest.raises(VerificationFailed, match="too old"):
        source(tolerance_seconds=60).verify(request(body, headers))


def test_a_valid_legacy_signature_does_not_rescue_a_failing_v3() -> None:
    body = subscription_body()
    stale = v3_headers(body, timestamp_ms=int(time.time() * 1000) - 600_000)
    v1 = hashlib.sha256(SECRET.encode() + body).hexdigest()
    headers = {**stale, "x-hubspot-signature": v1, "x-hubspot-signature-version": "v1"}
    with pytest.raises(VerificationFailed, match="too old"):
        source(signature_versions=["v3", "v1"]).verify(request(body, headers))
    del headers["x-hubspot-signature-v3"]
    assert source(signature_versions=["v3", "v1"]).verify(request(body, headers))


def test_a_source_without_its_secret_is_not_ready() -> None:
    unset = source(None)
    assert not unset.ready
    assert unset.missing_secrets() == ["HUBSPOT_CLIENT_SECRET"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b'"text"', "JSON array of events or one object"),
        (b"[1]", "event 0 is not a JSON object"),
        (b'[{"eventId": 1}]', "no 'subscriptionType'"),
        (b'[{"subscriptionType": "deal.creation"}]', "no 'eventId'"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(raw: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(raw, v3_headers(raw)))
    assert refused.value.status == 400


def test_public_url_must_be_an_absolute_base() -> None:
    with pytest.raises(ValueError, match="absolute URL"):
        source(public_url="bridge.example.com")


def test_the_example_converts_the_sample_workflow_webhook(tmp_path: Path) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    examples = REPO / "mappings" / "examples"
    shutil.copy(examples / "hubspot-to-convert.yaml", folder)
    shutil.copy(examples / "convert.yaml", folder)
    environ = {"HUBSPOT_CLIENT_SECRET": SECRET, "HUBSPOT_PUBLIC_URL": "https://bridge.test"}
    config = load_config(folder, environ)
    assert config.warnings() == []
    [event] = config.sources["hubspot"].parse(workflow_body())
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    assert result.conversion is not None
    assert result.conversion.visitor_id == "1741943912345-0.7391"
    assert result.conversion.transaction_id == "18345678901"
    assert result.conversion.exposure == {"100127238": "1001186427"}
    assert result.conversion.revenue is not None
    assert (result.conversion.revenue.minor, result.conversion.revenue.currency) == (125000, "EUR")
    for event in config.sources["hubspot"].parse(subscription_body()):
        assert [r.status for r in config.rules.evaluate(event)] == []


def test_a_long_url_or_version_header_is_echoed_in_a_line_not_in_full() -> None:
    body = subscription_body()
    long_url = URL + "?" + "q" * 100_000
    with pytest.raises(VerificationFailed) as wrong:
        source().verify(request(body, v3_headers(body, secret="not-the-secret"), long_url))
    assert "does not match a request to 'https://bridge.example.com/" in str(wrong.value)
    assert "(100044 characters)" in str(wrong.value)
    assert len(str(wrong.value)) < 300
    odd = {"x-hubspot-signature": "00", "x-hubspot-signature-version": "v" * 100_000}
    with pytest.raises(VerificationFailed) as unknown:
        source().verify(request(body, odd))
    assert "(100000 characters)" in str(unknown.value)
    assert len(str(unknown.value)) < 300


# bridge send ---------------------------------------------------------------------------------


def test_sign_reproduces_the_published_v3_vector() -> None:
    signed = source(VECTOR_SECRET).sign(VECTOR_BODY, VECTOR_URL, VECTOR_TIMESTAMP_MS / 1000)
    assert signed.headers == {
        "X-HubSpot-Signature-v3": VECTOR_V3,
        "X-HubSpot-Request-Timestamp": str(VECTOR_TIMESTAMP_MS),
    }


@pytest.mark.parametrize(("version", "signature"), [("v1", VECTOR_V1), ("v2", VECTOR_V2)])
def test_sign_uses_a_legacy_version_when_no_v3_is_accepted(version: str, signature: str) -> None:
    hubspot = source(VECTOR_SECRET, signature_versions=[version])
    signed = hubspot.sign(VECTOR_BODY, VECTOR_URL, time.time())
    assert signed.headers == {
        "X-HubSpot-Signature": signature,
        "X-HubSpot-Signature-Version": version,
    }


def test_sign_covers_the_public_url_the_source_turns_the_posted_one_into() -> None:
    body, now = workflow_body(), time.time()
    proxied = source(public_url="https://bridge.example.com/crm/")
    signed = proxied.sign(body, "http://127.0.0.1:8080/webhooks/hubspot", now)
    public = "https://bridge.example.com/crm/webhooks/hubspot"
    expected = v3_headers(body, url=public, timestamp_ms=int(now * 1000))
    assert signed.headers["X-HubSpot-Signature-v3"] == expected["x-hubspot-signature-v3"]
