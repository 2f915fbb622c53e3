"""Genuine requests, signed for real, with values no sender should send: each sender answers
with an event (an odd time is no time) or a `SourceError` that says why, never anything else."""

from __future__ import annotations

from typing import Any, cast

import orjson
import pytest

from bridge.mapping import Config, load_config
from bridge.sources import InboundRequest, MalformedPayload, VerificationFailed
from bridge.store.base import Store
from bridge.use_cases.ingest import Ingestor
from bridge.vocabulary.model import Event
from tests.support.senders import SENDERS, shipped_mappings

URL = "http://bridge.test/webhooks/"
BEFORE_YEAR_ONE = "0001-01-01T00:00:00+05:00"
AFTER_9999 = "9999-12-31T23:59:59-23:59"


@pytest.fixture(scope="module")
def config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    folder = tmp_path_factory.mktemp("hostile") / "mappings"
    return load_config(folder, shipped_mappings(folder))


def verify(config: Config, kind: str, body: bytes, stamp: str | None = None) -> list[Event]:
    sender = SENDERS[kind]
    url = URL + sender.source
    signed = sender.sign(body, sender.now() if stamp is None else stamp, url)
    request = InboundRequest("POST", url + signed.query, signed.headers, body)
    return config.sources[sender.source].verify(request)


def sample(kind: str, index: int = 0) -> Any:
    return orjson.loads(SENDERS[kind].sample(index))


def nested(depth: int, leaf: str = "1") -> str:
    return "[" * depth + leaf + "]" * depth


def with_raw(document: Any, key_path: list[Any], raw_json: str) -> bytes:
    """`document` as JSON with the value at `key_path` replaced by the JSON text `raw_json`."""
    marker = "__hostile_value__"
    target = document
    for key in key_path[:-1]:
        target = target[key]
    target[key_path[-1]] = marker
    return orjson.dumps(document).replace(f'"{marker}"'.encode(), raw_json.encode())


# Times: one helper for every sender ----------------------------------------------------------

TIMES = [
    ("lemonsqueezy", ["data", "attributes", "updated_at"], f'"{BEFORE_YEAR_ONE}"'),
    ("lemonsqueezy", ["data", "attributes", "updated_at"], f'"{AFTER_9999}"'),
    ("chargebee", ["occurred_at"], "100000000000000000"),
    ("chargebee", ["occurred_at"], "-100000000000000000"),
    ("close", ["event", "date_created"], '"0001-01-01T00:00:00+23:59"'),
    ("pipedrive", ["meta", "timestamp"], "100000000000000000"),
    ("pipedrive", ["meta", "timestamp"], f'"{AFTER_9999}"'),
    ("shopify", ["updated_at"], f'"{BEFORE_YEAR_ONE}"'),
    ("woocommerce", ["date_modified_gmt"], f'"{AFTER_9999}"'),
    ("hubspot", [0, "occurredAt"], "100000000000000000000"),
    ("hubspot", [0, "occurredAt"], "-9223372036854775808"),
    ("stripe", ["created"], "100000000000000000"),
    ("stripe", ["created"], f'"{BEFORE_YEAR_ONE}"'),
    ("paddle", ["occurred_at"], f'"{AFTER_9999}"'),
    ("standard-webhooks", ["timestamp"], "100000000000000000"),
    ("hmac", ["created_at"], f'"{BEFORE_YEAR_ONE}"'),
]


FALLBACKS = {
    "lemonsqueezy": ["data", "attributes", "created_at"],
    "shopify": ["created_at"],
    "woocommerce": ["date_created_gmt"],
}
"""The time a sender's event falls back to when the first one is not a time."""


@pytest.mark.parametrize(("kind", "path", "raw"), TIMES)
def test_a_time_outside_what_a_datetime_holds_is_no_time(
    config: Config, kind: str, path: list[Any], raw: str
) -> None:
    document = sample(kind)
    if kind in FALLBACKS:
        *parents, last = FALLBACKS[kind]
        target = document
        for key in parents:
            target = target[key]
        del target[last]
    events = verify(config, kind, with_raw(document, path, raw))
    assert events[0].occurred_at is None


def test_a_salesforce_time_outside_what_a_datetime_holds_is_no_time(config: Config) -> None:
    body = (
        SENDERS["salesforce"].recorded().replace(b"2026-03-04T10:15:02.000Z", AFTER_9999.encode())
    )
    [event] = verify(config, "salesforce", body)
    assert event.occurred_at is None


def test_a_time_a_sender_writes_well_is_still_read(config: Config) -> None:
    [event] = verify(config, "lemonsqueezy", SENDERS["lemonsqueezy"].sample())
    assert event.occurred_at is not None


# Digits in signed timestamp headers ----------------------------------------------------------


@pytest.mark.parametrize(
    "kind", sorted(kind for kind, sender in SENDERS.items() if sender.per_second is not None)
)
@pytest.mark.parametrize(
    "stamp", ["\u00b2", "\u00b9\u00b2\u00b3", "\uff11\uff12\uff13", "9" * 5000, "-5", "1_0"]
)
def test_a_signed_timestamp_that_is_not_ascii_digits_is_refused(
    config: Config, kind: str, stamp: str
) -> None:
    with pytest.raises(VerificationFailed):
        verify(config, kind, SENDERS[kind].sample(), stamp)


# Depth: one limit at parse, for JSON and XML -------------------------------------------------

DEPTHS = [
    ("hubspot", [0, "propertyValue"], nested(300)),
    ("woocommerce", ["id"], nested(1023)),
    ("hmac", ["order", "items_count"], nested(1000)),
    ("stripe", ["data", "object", "metadata"], nested(70, '{"a":1}')),
    ("pipedrive", ["data", "value"], nested(65)),
]


@pytest.mark.parametrize(("kind", "path", "raw"), DEPTHS)
def test_a_body_nested_too_deeply_is_refused_saying_so(
    config: Config, kind: str, path: list[Any], raw: str
) -> None:
    with pytest.raises(MalformedPayload, match="nested deeper than 64 levels"):
        verify(config, kind, with_raw(sample(kind), path, raw))


def test_a_salesforce_sobject_nested_too_deeply_is_refused_saying_so(config: Config) -> None:
    deep = "<sf:Nested>" * 1000 + "x" + "</sf:Nested>" * 1000
    body = SENDERS["salesforce"].sample().replace(b"<sf:Name>", deep.encode() + b"<sf:Name>")
    with pytest.raises(MalformedPayload, match="nested deeper than 64 levels"):
        verify(config, "salesforce", body)


def test_nesting_up_to_the_limit_is_read(config: Config) -> None:
    body = with_raw(sample("woocommerce"), ["meta_data"], nested(60))
    [event] = verify(config, "woocommerce", body)
    assert event.type == "order.updated"


async def test_an_unknown_source_name_of_any_length_is_echoed_in_a_line(config: Config) -> None:
    name = "s" * 10_000
    request = InboundRequest("POST", URL + name, {}, b"{}")
    reply = await Ingestor(config, cast(Store, None)).receive(name, request)
    assert reply.status == 404
    assert reply.body == {"error": f"unknown source {'s' * 64!r}... (10000 characters)"}
