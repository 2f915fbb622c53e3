import base64
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bridge.mapping import Config, load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.chargebee import ChargebeeOptions, ChargebeeSource

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "chargebee" / "payment_succeeded.json"
USER, PASSWORD = "chargebee", "Zq8-vN2_kL5"
ENV = {
    "CHARGEBEE_WEBHOOK_USER": USER,
    "CHARGEBEE_WEBHOOK_PASSWORD": PASSWORD,
    "CONDUCTRICS_API_KEY": "api-test",
}
PAIR = {"username": "${CHARGEBEE_WEBHOOK_USER}", "password": "${CHARGEBEE_WEBHOOK_PASSWORD}"}


def source(environ: dict[str, str] = ENV) -> ChargebeeSource:
    options = ChargebeeOptions.model_validate(
        {"kind": "chargebee", "credentials": [PAIR]}, context={"environ": environ}
    )
    return ChargebeeSource("chargebee", options)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": "application/json"}


def request(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest("POST", "https://bridge.example.com/webhooks/chargebee", headers, body)


def test_an_event_with_the_right_credentials_is_parsed() -> None:
    body = SAMPLE.read_bytes()
    [event] = source().verify(request(body, basic(USER, PASSWORD)))
    assert event.event_id == "ev_16BPgETyVrQbiGhA"
    assert event.type == "payment_succeeded"
    assert event.source == "chargebee"
    assert event.raw == body
    assert event.payload["content"]["transaction"]["amount"] == 4900
    assert event.occurred_at == datetime.fromtimestamp(1773480067, UTC)


def test_old_and_new_passwords_are_accepted_while_rotating() -> None:
    environ = {**ENV, "CHARGEBEE_WEBHOOK_PASSWORD_NEXT": "next-pass"}
    pairs = [PAIR, {**PAIR, "password": "${CHARGEBEE_WEBHOOK_PASSWORD_NEXT}"}]
    options = ChargebeeOptions.model_validate(
        {"kind": "chargebee", "credentials": pairs}, context={"environ": environ}
    )
    both = ChargebeeSource("chargebee", options)
    body = SAMPLE.read_bytes()
    assert both.verify(request(body, basic(USER, PASSWORD)))
    assert both.verify(request(body, basic(USER, "next-pass")))


def test_a_password_with_a_comma_is_one_password() -> None:
    with_comma = source({**ENV, "CHARGEBEE_WEBHOOK_PASSWORD": "Tr0ub4dorSECRET,x9"})
    body = SAMPLE.read_bytes()
    assert with_comma.verify(request(body, basic(USER, "Tr0ub4dorSECRET,x9")))
    with pytest.raises(VerificationFailed):
        with_comma.verify(request(body, basic(USER, "x9")))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "missing Authorization header"),
        (basic(USER, "wrong"), "do not match"),
        (basic("admin", PASSWORD), "do not match"),
        ({"authorization": "Bearer " + PASSWORD}, "not HTTP Basic"),
        ({"authorization": "Basic %%%"}, "not valid base64"),
    ],
)
def test_requests_without_the_right_credentials_are_refused(
    headers: dict[str, str], expected: str
) -> None:
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(SAMPLE.read_bytes(), headers))
    assert refused.value.status == 401


def test_a_source_without_its_password_is_not_ready() -> None:
    half = source({"CHARGEBEE_WEBHOOK_USER": USER})
    assert not half.ready
    assert half.missing_secrets() == ["CHARGEBEE_WEBHOOK_PASSWORD"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"event_type": "payment_succeeded"}', "no 'id'"),
        (b'{"id": "ev_1", "content": {}}', "no 'event_type'"),
    ],
)
def test_authentic_but_unusable_bodies_are_malformed(raw: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected) as refused:
        source().verify(request(raw, basic(USER, PASSWORD)))
    assert refused.value.status == 400


def example_config(tmp_path: Path) -> Config:
    folder = tmp_path / "mappings"
    folder.mkdir()
    examples = REPO / "mappings" / "examples"
    shutil.copy(examples / "chargebee-to-conductrics.yaml", folder)
    shutil.copy(examples / "conductrics.yaml", folder)
    return load_config(folder, ENV)


def test_the_example_converts_the_first_payment(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    assert config.warnings() == []
    [event] = config.sources["chargebee"].parse(SAMPLE.read_bytes())
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.visitor_id == "cvid-3e7a91c2d4"
    assert conversion.transaction_id == "2051"
    assert conversion.revenue is not None
    assert (conversion.revenue.minor, conversion.revenue.currency) == (4900, "USD")
    assert conversion.occurred_at == datetime.fromtimestamp(1773480067, UTC)


def test_the_example_skips_renewals(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    payload = orjson.loads(SAMPLE.read_bytes())
    payload["content"]["invoice"]["first_invoice"] = False
    [event] = config.sources["chargebee"].parse(orjson.dumps(payload))
    assert [r.status for r in config.rules.evaluate(event)] == ["skipped"]
