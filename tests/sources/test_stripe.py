import hashlib
import hmac
import time
from datetime import UTC, datetime

import pytest
import stripe
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.stripe import StripeOptions, StripeSource
from bridge.vocabulary.currencies import stripe_exponent
from tests.support import stripe as s

OLD_SECRET = "whsec_old_0123456789abcdef"


def source(secret_value: str | None = s.SECRET, tolerance: int = 300) -> StripeSource:
    environ = {"STRIPE_WEBHOOK_SECRET": secret_value} if secret_value else {}
    options = StripeOptions.model_validate(
        {"kind": "stripe", "secret": "${STRIPE_WEBHOOK_SECRET}", "tolerance_seconds": tolerance},
        context={"environ": environ},
    )
    return StripeSource("stripe", options)


def request(body: bytes, headers: dict[str, str]) -> InboundRequest:
    lowered = {k.lower(): v for k, v in headers.items()}
    return InboundRequest("POST", "http://bridge.test/webhooks/stripe", lowered, body)


def test_a_genuine_event_is_verified_and_parsed() -> None:
    payload = s.event("checkout.session.completed", event_id="evt_genuine")
    raw, headers = s.signed(payload)
    [event] = source().verify(request(raw, headers))
    assert event.event_id == "evt_genuine"
    assert event.type == "checkout.session.completed"
    assert event.source == "stripe"
    assert event.raw == raw
    assert event.occurred_at == datetime.fromtimestamp(payload["created"], UTC)


def test_an_old_secret_still_verifies_during_rotation() -> None:
    raw, headers = s.signed(s.event("invoice.paid"), secret=OLD_SECRET)
    rotating = source(f"{s.SECRET},{OLD_SECRET}")
    assert rotating.verify(request(raw, headers))


def test_one_matching_signature_among_several_is_enough() -> None:
    raw = s.body(s.event("invoice.paid"))
    now = int(time.time())
    ours = s.signature(raw, s.SECRET, now).split(",")[1]
    header = f"t={now},v1={'0' * 64},{ours}"
    assert source().verify(request(raw, {"Stripe-Signature": header}))


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong secret", "No signatures found matching"),
        ("tampered body", "No signatures found matching"),
        ("stale timestamp", "Timestamp outside the tolerance zone"),
        ("future timestamp", "Timestamp outside the tolerance zone"),
        ("missing header", "missing Stripe-Signature header"),
        ("malformed header", "Unable to extract timestamp"),
        ("no v1 signature", "No signatures found with expected scheme"),
    ],
)
def test_requests_that_are_not_genuine_are_refused(case: str, expected: str) -> None:
    raw = s.body(s.event("checkout.session.completed"))
    now = int(time.time())
    headers = {"Stripe-Signature": s.signature(raw, s.SECRET, now)}
    if case == "wrong secret":
        headers["Stripe-Signature"] = s.signature(raw, "whsec_someone_else", now)
    elif case == "tampered body":
        raw = raw.replace(b'"amount_total":2499', b'"amount_total":1')
    elif case == "stale timestamp":
        headers["Stripe-Signature"] = s.signature(raw, s.SECRET, now - 301)
    elif case == "future timestamp":
        headers["Stripe-Signature"] = s.signature(raw, s.SECRET, now + 400)
    elif case == "missing header":
        headers = {}
    elif case == "malformed header":
        headers["Stripe-Signature"] = "garbage"
    elif case == "no v1 signature":
        headers["Stripe-Signature"] = f"t={now},v0=abc"
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(raw, headers))
    assert refused.value.status == 401


def test_a_timestamp_inside_the_tolerance_is_accepted() -> None:
    raw = s.body(s.event("invoice.paid"))
    headers = {"Stripe-Signature": s.signature(raw, s.SECRET, int(time.time()) - 290)}
    assert source().verify(request(raw, headers))


def test_tolerance_is_configurable() -> None:
    raw = s.body(s.event("invoice.paid"))
    headers = {"Stripe-Signature": s.signature(raw, s.SECRET, int(time.time()) - 120)}
    with pytest.raises(VerificationFailed, match="tolerance"):
        source(tolerance=60).verify(request(raw, headers))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1, 2]", "JSON object"),
        (b'{"type": "invoice.paid"}', "no 'id'"),
        (b'{"id": "evt_1"}', "no 'type'"),
    ],
)
def test_genuine_but_unusable_bodies_are_malformed(raw: bytes, expected: str) -> None:
    headers = {"Stripe-Signature": s.signature(raw)}
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(raw, headers))
    assert refused.value.status == 400


# Headers built from items Stripe sends and items it never would, to check that the fast check
# (one HMAC over the bytes) accepts exactly what Stripe's library accepts, less the
# timestamps from the far future that bridge refuses on top. Tolerance 300 s; no timestamp is
# within 20 s of an edge of the window around the moment a case starts, so the clock moving
# during a case cannot change its verdict.
TOLERANCE = 300
BODY = s.body(s.event("checkout.session.completed", event_id="evt_differential"))
OFFSETS = st.sampled_from([0, -120, -280, -320, 120, 280, 320, 10**6])
RENDERINGS = st.sampled_from(["{}", "{}", "{}", " {}", "+{}", "0{}", "{} ", "{}=x", "1_{}"])
SIGNERS = st.sampled_from([s.SECRET, OLD_SECRET, "whsec_someone_else"])


@st.composite
def header_item(draw: st.DrawFn, key: str, stamp: int, now: int) -> tuple[str, int | None]:
    """One item keyed `key` and the timestamp it stands for (for `t`). Most timestamps and
    signatures are made for `stamp`, so that many headers are genuine."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.sampled_from(["", "=", "abc", "t", "v1", f"{key}=", f"{key}=x"])), None
    moment = draw(st.sampled_from([stamp, stamp, now + draw(OFFSETS)]))
    if key.strip() == "t":
        text = draw(RENDERINGS).format(moment)
        return f"{key}={text}", int(text.split("=")[0]) if key == "t" else None
    value = s.signature(BODY, draw(SIGNERS), moment).split("v1=")[1]
    variants = [value, value, value, value.upper(), value[:-1], value + "=x", ""]
    value = draw(st.sampled_from(variants))
    return f"{key}={value}", None


@st.composite
def signature_headers(draw: st.DrawFn, stamp: int, now: int) -> tuple[str, int | None]:
    """A header (a `t`, one or two `v1`, up to two odd items, in any order) and the timestamp
    of its first item keyed exactly `t`."""
    keys = ["t", "v1", *draw(st.lists(st.sampled_from(["v1", "t"]), max_size=1))]
    keys += draw(st.lists(st.sampled_from(["v0", "T", " t", "v1 ", "t", "v1"]), max_size=2))
    items = [draw(header_item(key, stamp, now)) for key in draw(st.permutations(keys))]
    first_t = next((moment for text, moment in items if text.split("=")[0] == "t"), None)
    return ",".join(text for text, _ in items), first_t


def library_accepts(header: str, secrets: list[str]) -> bool:
    for secret in secrets:
        try:
            stripe.WebhookSignature.verify_header(BODY.decode(), header, secret, TOLERANCE)
        except stripe.SignatureVerificationError:
            continue
        return True
    return False


@settings(max_examples=400, deadline=None)
@given(
    data=st.data(),
    offset=OFFSETS,
    secrets=st.sampled_from([[s.SECRET], [OLD_SECRET, s.SECRET], [" ", s.SECRET]]),
)
def test_the_fast_check_accepts_what_stripes_library_accepts(
    data: st.DataObject, offset: int, secrets: list[str]
) -> None:
    now = int(time.time())  # per example: the suite may run long after this module loads
    header, first_t = data.draw(signature_headers(now + offset, now))
    expected = library_accepts(header, secrets) and (first_t or 0) <= now + TOLERANCE
    checked = source(",".join(secrets), TOLERANCE)
    assert checked._genuine(BODY, header) is expected
    if expected:
        assert checked.verify(request(BODY, {"Stripe-Signature": header}))
    else:
        with pytest.raises(VerificationFailed):
            checked.verify(request(BODY, {"Stripe-Signature": header}))


def test_a_body_that_is_not_utf8_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="UTF-8"):
        source().verify(request(b"\xff\xfe{}", {"Stripe-Signature": "t=1,v1=00"}))


def test_a_source_without_its_secret_is_not_ready() -> None:
    unset = source(None)
    assert not unset.ready
    assert unset.missing_secrets() == ["STRIPE_WEBHOOK_SECRET"]
    with pytest.raises(VerificationFailed):
        unset.verify(request(*s.signed(s.event("invoice.paid"))))


def test_thin_events_carry_iso_times() -> None:
    raw = (
        b'{"id":"evt_thin","object":"v2.core.event","type":"v1.invoice.paid",'
        b'"created":"2026-11-22T10:00:00.000Z"}'
    )
    [event] = source().parse(raw)
    assert event.occurred_at == datetime(2026, 11, 22, 10, tzinfo=UTC)


@pytest.mark.parametrize(
    ("code", "exponent"), [("jpy", 0), ("KWD", 3), ("ISK", 2), ("usd", 2), ("MGA", 0)]
)
def test_stripe_minor_units(code: str, exponent: int) -> None:
    assert stripe_exponent(code) == exponent


def test_a_far_future_timestamp_of_a_thousand_digits_is_echoed_in_a_line() -> None:
    raw = s.body(s.event("checkout.session.completed"))
    headers = {"stripe-signature": s.signature(raw, timestamp=int("9" * 1000))}
    with pytest.raises(VerificationFailed, match="Timestamp outside the tolerance zone") as refused:
        source().verify(request(raw, headers))
    assert "(1000 characters)" in str(refused.value)
    assert len(str(refused.value)) < 200


def test_sign_writes_stripes_header_over_the_timestamp_and_the_raw_body() -> None:
    raw = s.body(s.sample("invoice.paid"))
    signed = source().sign(raw, "http://bridge.test/webhooks/stripe", 1767225600.9)
    mac = hmac.new(s.SECRET.encode(), b"1767225600." + raw, hashlib.sha256).hexdigest()
    assert signed.headers == {"Stripe-Signature": f"t=1767225600,v1={mac}"}


def test_sign_refuses_a_body_stripe_could_not_have_sent() -> None:
    with pytest.raises(MalformedPayload, match="not UTF-8"):
        source().sign(b"\xff{}", "http://bridge.test/webhooks/stripe", time.time())
