"""Stored conversions keep vendor fields as flat keys beside the core's ("label", "segments"):
such JSON decodes, and each vendor is sent exactly what it is sent for the conversion.

`TODAY` is the stored JSON of a conversion that maps every field, as the store holds it;
`SENT` is each vendor's request body for it, byte for byte.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from bridge.delivery.recent import decode
from bridge.destinations import VENDORS, Destination
from bridge.destinations.convert import PRODUCTS_COUNT, SEGMENTS
from bridge.destinations.pagent import LABEL, VISIT_ID
from bridge.destinations.scanova import EMAIL_SHA256, EXTERNAL_ID
from bridge.vocabulary.model import Conversion
from tests.support.conversions import destination

TODAY = (
    b'{"occurred_at":"2026-11-22T10:00:00.250000+00:00","provenance":{"source":"stripe",'
    b'"event_id":"evt_1","rule":"paid","mapping_file":"mappings/stripe-to-all.yaml",'
    b'"mapping_version":"abc123"},"session_id":"0b5e8a1c-7d2f-4e3a-9c6b-1f2e3d4c5b6a",'
    b'"user_id":"u_1","visit_id":"v_1","visitor_id":"visitor-1","external_id":"cus_1",'
    b'"email_sha256":"' + b"a" * 64 + b'","goal_id":"100037225","label":"purchase",'
    b'"event_name":"purchase","exposure":{"100127238":"1001186427"},'
    b'"segments":{"browser":"CH","devices":["DESK"],"country":"DE"},'
    b'"revenue":{"minor":2499,"currency":"USD"},"transaction_id":"pi_1","products_count":2,'
    b'"properties":{"plan":"pro"},"consent":"granted"}'
)
OPTIONS: dict[str, dict[str, Any]] = {
    "pagent": {"api": "v2", "api_key": "${K}"},
    "convert": {"account_id": "1", "project_id": "2"},
    "scanova": {"site_id": "site", "api_key": "${K}"},
    "conductrics": {"owner": "ac-1", "api_key": "${K}"},
}
SENT = {
    "pagent": b'{"session_data":{"session_id":"0b5e8a1c-7d2f-4e3a-9c6b-1f2e3d4c5b6a",'
    b'"user_id":"u_1","visit_id":"v_1","conversion_id":"100037225"},"label":"purchase",'
    b'"revenue":2499,"properties":{"plan":"pro"},"time":1795341600250}',
    "convert": b'{"accountId":"1","projectId":"2","enrichData":true,"visitors":[{'
    b'"visitorId":"visitor-1","segments":{"browser":"CH","devices":["DESK"],"country":"DE"},'
    b'"events":[{"eventType":"conversion","data":{"goalId":"100037225",'
    b'"bucketingData":{"100127238":"1001186427"}}},{"eventType":"conversion","data":{'
    b'"goalId":"100037225","bucketingData":{"100127238":"1001186427"},"goalData":['
    b'{"key":"amount","value":24.99},{"key":"productsCount","value":2},'
    b'{"key":"transactionId","value":"pi_1"}]}}]}]}',
    "scanova": b'{"site_id":"site","event_name":"purchase",'
    b'"scan_session_id":"0b5e8a1c-7d2f-4e3a-9c6b-1f2e3d4c5b6a",'
    b'"event_id":"2d483b99-811c-53ce-8603-61324f9bbc95",'
    b'"event_time":"2026-11-22T10:00:00.250Z",'
    b'"conversion_value":{"amount":24.99,"currency":"USD"},'
    b'"user_identifiers":{"email_hash":"' + b"a" * 64 + b'","external_id":"cus_1"},'
    b'"properties":{"plan":"pro"},"consent":"granted"}',
    "conductrics": b'{"commands":[{"g":"100037225","v":24.99}]}',
}


def vendor(kind: str) -> Destination:
    options = {"vendor": kind, "base_url": "http://127.0.0.1:9", **OPTIONS[kind]}
    return destination(VENDORS[kind], options, {"K": "k"}, name=kind)


def test_every_vendor_is_covered() -> None:
    assert set(SENT) == set(VENDORS)


@pytest.mark.parametrize("kind", sorted(SENT))
def test_a_conversion_stored_with_flat_vendor_keys_is_sent_byte_for_byte_as_before(
    kind: str,
) -> None:
    [request] = vendor(kind).requests([decode(TODAY)])
    assert request.body == SENT[kind]


def test_its_vendor_fields_are_read_by_their_vendors() -> None:
    stored = decode(TODAY)
    assert (VISIT_ID.of(stored), LABEL.of(stored)) == ("v_1", "purchase")
    assert SEGMENTS.of(stored) == {"browser": "CH", "devices": ["DESK"], "country": "DE"}
    assert (PRODUCTS_COUNT.of(stored), EXTERNAL_ID.of(stored)) == (2, "cus_1")
    assert EMAIL_SHA256.of(stored) == "a" * 64
    assert stored.dedupe_key() == "txn:100037225:pi_1"


def test_it_is_stored_again_with_the_same_keys_and_values() -> None:
    """A process of the earlier code (a rollback, a replica not yet upgraded) reads it."""
    stored = decode(TODAY)
    assert orjson.loads(stored.to_json()) == orjson.loads(TODAY)
    assert Conversion.from_dict(stored.to_dict()) == stored
