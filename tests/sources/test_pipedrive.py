import base64
import shutil
from datetime import UTC, datetime
from pathlib import Path

import orjson
import pytest

from bridge.mapping import Config, load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.pipedrive import PipedriveOptions, PipedriveSource

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "mappings" / "samples" / "pipedrive" / "change.deal.json"
USER, PASSWORD = "pipedrive-hooks", "s3cret:with-colon"
ENV = {"PIPEDRIVE_WEBHOOK_USER": USER, "PIPEDRIVE_WEBHOOK_PASSWORD": PASSWORD}
PAIR = {"username": "${PIPEDRIVE_WEBHOOK_USER}", "password": "${PIPEDRIVE_WEBHOOK_PASSWORD}"}


def source(environ: dict[str, str] = ENV, credentials: object = None) -> PipedriveSource:
    options = PipedriveOptions.model_validate(
        {"kind": "pipedrive", "credentials": [PAIR] if credentials is None else credentials},
        context={"environ": environ},
    )
    return PipedriveSource("pipedrive", options)


def basic(user: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {token}", "content-type": "application/json"}


def request(body: bytes, headers: dict[str, str]) -> InboundRequest:
    return InboundRequest("POST", "https://bridge.example.com/webhooks/pipedrive", headers, body)


def test_a_deal_change_with_the_right_credentials_is_parsed() -> None:
    body = SAMPLE.read_bytes()
    [event] = source().verify(request(body, basic(USER, PASSWORD)))
    assert event.event_id == "0c7d9e83-2b4f-4a7e-b1f6-93d2a5c8e410"
    assert event.type == "change.deal"
    assert event.source == "pipedrive"
    assert event.raw == body
    assert event.payload["data"]["status"] == "won"
    assert event.occurred_at == datetime(2026, 3, 14, 9, 21, 7, 512000, tzinfo=UTC)


def test_a_retry_is_the_same_event() -> None:
    payload = orjson.loads(SAMPLE.read_bytes())
    payload["meta"]["attempt"] = 2
    [retry] = source().parse(orjson.dumps(payload))
    [first] = source().parse(SAMPLE.read_bytes())
    assert retry.event_id == first.event_id


def test_unix_second_timestamps_are_read_too() -> None:
    payload = orjson.loads(SAMPLE.read_bytes())
    payload["meta"]["timestamp"] = 1727447128
    [event] = source().parse(orjson.dumps(payload))
    assert event.occurred_at == datetime.fromtimestamp(1727447128, UTC)


def test_a_new_pair_and_the_old_one_are_both_accepted_while_rotating() -> None:
    environ = {
        **ENV,
        "PIPEDRIVE_WEBHOOK_USER_NEXT": "hooks-2",
        "PIPEDRIVE_WEBHOOK_PASSWORD_NEXT": "p2",
    }
    pairs = [
        PAIR,
        {
            "username": "${PIPEDRIVE_WEBHOOK_USER_NEXT}",
            "password": "${PIPEDRIVE_WEBHOOK_PASSWORD_NEXT}",
        },
    ]
    rotating = source(environ, pairs)
    body = SAMPLE.read_bytes()
    assert rotating.verify(request(body, basic(USER, PASSWORD)))
    assert rotating.verify(request(body, basic("hooks-2", "p2")))
    with pytest.raises(VerificationFailed):
        rotating.verify(request(body, basic(USER, "p2")))  # halves of two pairs do not mix


def test_a_password_with_a_comma_is_one_password() -> None:
    with_comma = source({**ENV, "PIPEDRIVE_WEBHOOK_PASSWORD": "Tr0ub4dorSECRET,x9"})
    body = SAMPLE.read_bytes()
    assert with_comma.verify(request(body, basic(USER, "Tr0ub4dorSECRET,x9")))
    for piece in ("Tr0ub4dorSECRET", "x9"):
        with pytest.raises(VerificationFailed):
            with_comma.verify(request(body, basic(USER, piece)))


def test_one_pair_may_be_written_without_a_list() -> None:
    assert source(credentials=PAIR).verify(request(SAMPLE.read_bytes(), basic(USER, PASSWORD)))


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, "missing Authorization header"),
        (basic(USER, "wrong"), "do not match"),
        (basic("someone", PASSWORD), "do not match"),
        (basic(USER, PASSWORD[:-1]), "do not match"),
        ({"authorization": "Bearer abc"}, "not HTTP Basic"),
        ({"authorization": "Basic"}, "not HTTP Basic"),
        ({"authorization": "Basic !!!not-base64"}, "not valid base64"),
        ({"authorization": "Basic " + base64.b64encode(b"no-colon").decode()}, "no ':'"),
        ({"authorization": "Basic " + base64.b64encode(b"\xff:\xfe").decode()}, "not valid"),
    ],
)
def test_requests_without_the_right_credentials_are_refused(
    headers: dict[str, str], expected: str
) -> None:
    with pytest.raises(VerificationFailed, match=expected) as refused:
        source().verify(request(SAMPLE.read_bytes(), headers))
    assert refused.value.status == 401


def test_the_scheme_name_is_case_insensitive() -> None:
    headers = basic(USER, PASSWORD)
    headers["authorization"] = headers["authorization"].replace("Basic", "basic")
    assert source().verify(request(SAMPLE.read_bytes(), headers))


def test_a_pair_missing_its_password_is_not_ready() -> None:
    half = source({"PIPEDRIVE_WEBHOOK_USER": USER})
    assert not half.ready
    assert half.missing_secrets() == ["PIPEDRIVE_WEBHOOK_PASSWORD"]
    with pytest.raises(VerificationFailed):
        half.verify(request(SAMPLE.read_bytes(), basic(USER, "")))


def test_credentials_must_be_references() -> None:
    with pytest.raises(ValueError, match="environment reference"):
        source(credentials=[{"username": "inline", "password": "${PIPEDRIVE_WEBHOOK_PASSWORD}"}])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"{not json", "not valid JSON"),
        (b"[]", "JSON object"),
        (b'{"data": {}}', "'meta' object"),
        (b'{"meta": {"action": "change", "entity": "deal"}}', "no 'meta.id'"),
        (b'{"meta": {"id": "e1", "entity": "deal"}}', "no 'meta.action'"),
        (b'{"meta": {"id": "e1", "action": "change"}}', "no 'meta.entity'"),
        (b'{"meta": {"id": 7, "object": "deal", "action": "updated"}, "current": {}}', "v1"),
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
    shutil.copy(examples / "pipedrive-to-convert.yaml", folder)
    shutil.copy(examples / "convert.yaml", folder)
    return load_config(folder, ENV)


def test_the_example_converts_the_won_deal(tmp_path: Path) -> None:
    config = example_config(tmp_path)
    assert config.warnings() == []
    [event] = config.sources["pipedrive"].parse(SAMPLE.read_bytes())
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.visitor_id == "1741943912345-0.7391"
    assert conversion.exposure == {"100127238": "1001186427"}
    assert conversion.transaction_id == "1482"
    assert conversion.revenue is not None
    assert (conversion.revenue.minor, conversion.revenue.currency) == (125050, "EUR")


@pytest.mark.parametrize("previous", [{"title": "renamed"}, {"status": "won"}, None])
def test_the_example_skips_changes_that_do_not_win_the_deal(
    tmp_path: Path, previous: dict[str, str] | None
) -> None:
    config = example_config(tmp_path)
    payload = orjson.loads(SAMPLE.read_bytes())
    payload["previous"] = previous
    [event] = config.sources["pipedrive"].parse(orjson.dumps(payload))
    assert [r.status for r in config.rules.evaluate(event)] == ["skipped"]
