import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from bridge.mapping import load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.sources.salesforce import ACK, SalesforceOptions, SalesforceSource
from tests.support.rotation import rotating
from tests.support.stripe import REPO

ORG = "00D5g000004XyZaEAK"
TOKEN = "q3Jd9-long-random-outbound-token"
SAMPLE = REPO / "mappings" / "samples" / "salesforce" / "opportunity-closed-won.xml"
URL = "https://bridge.test/webhooks/sf"


def source(
    token: str | None = None, *, with_token: bool = False, **options: Any
) -> SalesforceSource:
    settings: dict[str, Any] = {"kind": "salesforce", "organization_ids": [ORG], **options}
    if with_token:
        settings["token"] = "${SALESFORCE_OUTBOUND_TOKEN}"
    else:
        settings["allow_without_token"] = True
    environ = {"SALESFORCE_OUTBOUND_TOKEN": token} if token else {}
    return SalesforceSource(
        "sf", SalesforceOptions.model_validate(settings, context={"environ": environ})
    )


def request(body: bytes, url: str = URL) -> InboundRequest:
    return InboundRequest("POST", url, {"content-type": "text/xml; charset=utf-8"}, body)


def message(*notifications: tuple[str, str], organization: str = ORG) -> bytes:
    """An outbound message with one Opportunity notification per (notification id, stage)."""
    items = "".join(
        f"<Notification><Id>{notification_id}</Id>"
        '<sObject xsi:type="sf:Opportunity" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">'
        f"<sf:Id>006{notification_id[-15:]}</sf:Id><sf:Amount>100.5</sf:Amount>"
        f'<sf:StageName>{stage}</sf:StageName><sf:Description xsi:nil="true"/>'
        "</sObject></Notification>"
        for notification_id, stage in notifications
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"'
        ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>'
        '<notifications xmlns="http://soap.sforce.com/2005/09/outbound">'
        f"<OrganizationId>{organization}</OrganizationId><ActionId>04k5g000000KxYzAAK</ActionId>"
        f"{items}</notifications></soapenv:Body></soapenv:Envelope>"
    ).encode()


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>&lol3;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""

EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE x [<!ENTITY org SYSTEM "file:///etc/hostname">]>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body>
<notifications xmlns="http://soap.sforce.com/2005/09/outbound">
<OrganizationId>&org;</OrganizationId></notifications></soapenv:Body></soapenv:Envelope>"""


def test_the_sample_message_is_one_opportunity_event() -> None:
    [event] = source().verify(request(SAMPLE.read_bytes()))
    assert event.source == "sf"
    assert event.event_id == "04l5g00000AbCdEAAV"
    assert event.type == "Opportunity"
    assert event.payload["StageName"] == "Closed Won"
    assert event.payload["Amount"] == "2499.0"
    assert event.payload["Id"] == "0065g00000XyZ12AAB"
    assert event.occurred_at == datetime(2026, 3, 4, 10, 15, 2, tzinfo=UTC)


def test_every_notification_is_its_own_event() -> None:
    body = message(("04l000000000001AAA", "Closed Won"), ("04l000000000002AAA", "Prospecting"))
    events = source().verify(request(body))
    assert [e.event_id for e in events] == ["04l000000000001AAA", "04l000000000002AAA"]
    assert [e.payload["StageName"] for e in events] == ["Closed Won", "Prospecting"]
    assert events[0].payload["Description"] is None  # xsi:nil
    assert events[0].payload["Amount"] == "100.5"


def test_a_message_from_another_organization_is_refused() -> None:
    body = message(("04l000000000001AAA", "Closed Won"), organization="00D000000000999AAA")
    with pytest.raises(VerificationFailed, match="not in this source's organization_ids") as no:
        source().verify(request(body))
    assert no.value.status == 401


def test_a_message_without_an_organization_is_refused() -> None:
    body = message(("04l000000000001AAA", "Closed Won")).replace(
        f"<OrganizationId>{ORG}</OrganizationId>".encode(), b""
    )
    with pytest.raises(VerificationFailed):
        source().verify(request(body))


def test_the_15_character_organization_id_matches_the_18_character_one() -> None:
    assert source(organization_ids=[ORG[:15]]).verify(request(SAMPLE.read_bytes()))


def test_organization_ids_are_checked_when_the_files_load() -> None:
    with pytest.raises(ValidationError, match="not a Salesforce organization id"):
        source(organization_ids=["my-org"])
    with pytest.raises(ValidationError):
        source(organization_ids=[])


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY], ids=["laughs", "external"])
def test_entities_and_dtds_are_refused_unexpanded(body: bytes) -> None:
    with pytest.raises(MalformedPayload, match="DTD or entities") as refused:
        source().verify(request(body))
    assert refused.value.status == 400


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (b"{not xml", "not well-formed XML"),
        (b"<a/>", "not a Salesforce outbound message"),
        (
            message(("04l000000000001AAA", "Closed Won")).replace(
                b"<Id>04l000000000001AAA</Id>", b""
            ),
            "needs an Id",
        ),
    ],
)
def test_unusable_bodies_are_malformed(body: bytes, expected: str) -> None:
    with pytest.raises(MalformedPayload, match=expected):
        source().verify(request(body))


def test_a_message_with_no_notification_is_malformed() -> None:
    with pytest.raises(MalformedPayload, match="no Notification"):
        source().verify(request(message()))


@pytest.mark.parametrize(
    ("url", "accepted"),
    [
        (f"{URL}?token={TOKEN}", True),
        (f"{URL}?other=1&token={TOKEN}", True),
        (f"{URL}?token=wrong", False),
        (f"{URL}?token={TOKEN[:-1]}", False),
        (URL, False),
    ],
)
def test_the_optional_url_token_is_required_once_configured(url: str, accepted: bool) -> None:
    configured = rotating(
        SalesforceSource,
        {"kind": "salesforce", "organization_ids": [ORG]},
        [TOKEN, "previous-token"],
        field="token",
    )
    if accepted:
        assert configured.verify(request(SAMPLE.read_bytes(), url))
    else:
        with pytest.raises(VerificationFailed, match=r"\?token="):
            configured.verify(request(SAMPLE.read_bytes(), url))


def test_readiness_waits_only_for_a_configured_token() -> None:
    assert source().ready
    waiting = source(None, with_token=True)
    assert not waiting.ready
    assert waiting.missing_secrets() == ["SALESFORCE_OUTBOUND_TOKEN"]


def test_the_event_type_can_be_configured() -> None:
    [event] = source(event_type="deal.won").verify(request(SAMPLE.read_bytes()))
    assert event.type == "deal.won"


def test_answers_are_soap_acknowledgements_or_faults() -> None:
    sf = source()
    body, media_type = sf.render(200, {"status": "duplicate", "event_id": "04l"})
    assert (body, media_type) == (ACK, "text/xml; charset=utf-8")
    assert b"<Ack>true</Ack>" in body
    fault, _ = sf.render(401, {"error": "organization '<x>' is not allowed"})
    assert b"<faultcode>soapenv:Client</faultcode>" in fault
    assert b"&lt;x&gt;" in fault
    busy, _ = sf.render(503, {"error": "storage unavailable"})
    assert b"<faultcode>soapenv:Server</faultcode>" in busy
    assert b"Ack" not in busy


def test_a_stored_notification_replays_with_its_id() -> None:
    body = message(("04l000000000001AAA", "Closed Won"), ("04l000000000002AAA", "Closed Won"))
    received = source().verify(request(body))
    for event in received:
        [replayed] = source().parse(event.raw)
        assert (replayed.event_id, replayed.type) == (event.event_id, event.type)
        assert replayed.payload == event.payload


def test_the_example_mapping_converts_the_sample(tmp_path: Path) -> None:
    examples = REPO / "mappings" / "examples"
    shutil.copy(examples / "salesforce-to-convert.yaml", tmp_path)
    shutil.copy(examples / "convert.yaml", tmp_path)
    config = load_config(tmp_path, {"SALESFORCE_OUTBOUND_TOKEN": TOKEN})
    assert config.warnings() == []
    inbound = request(SAMPLE.read_bytes(), f"{URL}?token={TOKEN}")
    [event] = config.sources["salesforce"].verify(inbound)
    [result] = config.rules.evaluate(event)
    assert result.status == "converted", result.reason
    conversion = result.conversion
    assert conversion is not None
    assert conversion.visitor_id == "visitor-abc123"
    assert conversion.revenue is not None
    assert (conversion.revenue.minor, conversion.revenue.currency) == (249900, "USD")
    assert conversion.transaction_id == "0065g00000XyZ12AAB"
    assert conversion.exposure == {"100127238": "1001186427"}


def test_an_organization_id_of_900_kb_is_echoed_in_a_line_not_in_full() -> None:
    huge = "00D" + "x" * 900_000
    with pytest.raises(VerificationFailed) as refused:
        source(TOKEN, with_token=True).verify(
            request(
                message(("04l5g000000AbCdAAK", "Closed Won"), organization=huge),
                f"{URL}?token={TOKEN}",
            )
        )
    reason = str(refused.value)
    assert len(reason) < 200
    assert "'00Dxxxxx" in reason
    assert "(900003 characters)" in reason
    fault, _ = source().render(401, {"error": reason})
    assert len(fault) < 600


def test_a_dtd_with_a_huge_name_is_refused_in_a_line() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE ' + b"n" * 100_000 + b" []><a/>"
    with pytest.raises(MalformedPayload) as refused:
        source().verify(request(body))
    assert "DTD or entities is refused" in str(refused.value)
    assert len(str(refused.value)) < 200
