from __future__ import annotations

from typing import Any

import orjson
import pytest

from bridge.identity.beacon import MAX_MAP_ENTRIES, BeaconRefused, read_beacon
from tests.identity.ledgers import REF, beacon

ALL = ("pagent", "convert", "conductrics", "scanova")
BUCKETING = {f"1000{n}": f"2000{n}" for n in range(MAX_MAP_ENTRIES)}


def refusal(body: Any, vendors: tuple[str, ...] = ALL) -> BeaconRefused:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    with pytest.raises(BeaconRefused) as refused:
        read_beacon(raw, vendors)
    return refused.value


def test_a_beacon_with_every_vendor_is_read_as_sent() -> None:
    ids: dict[str, dict[str, object]] = {
        "pagent": {"session_id": "s", "user_id": "u", "conversion_id": "c"},
        "convert": {"visitor_id": "v", "bucketing": BUCKETING, "segments": {"country": "DE"}},
        "conductrics": {"vid": "cv"},
        "scanova": {"session_id": "sc"},
    }
    read = read_beacon(orjson.dumps({**beacon(**ids), "consent": "granted"}), ALL)
    assert read.ref == REF
    assert read.consent == "granted"
    assert read.ids == ids


def test_consent_is_optional() -> None:
    assert read_beacon(orjson.dumps(beacon()), ALL).consent is None


@pytest.mark.parametrize(
    ("body", "message", "field"),
    [
        (b"", "body is not JSON (UTF-8)", "body"),
        (b"ref=abc", "body is not JSON (UTF-8)", "body"),
        (b'{"v": 1,', "body is not JSON (UTF-8)", "body"),
        (b'{"v": NaN}', "body is not JSON (UTF-8)", "body"),
        (b'{"ref": "\xff"}', "body is not JSON (UTF-8)", "body"),
        (b'{"ref": "\\ud800"}', "body is not JSON (UTF-8)", "body"),
        (b"[" * 2000 + b"]" * 2000, "body is not JSON (UTF-8)", "body"),
        (b"[]", "body must be a JSON object, not an array", "body"),
        (b'"beacon"', "body must be a JSON object, not a string", "body"),
        (b"null", "body must be a JSON object, not null", "body"),
        (b"1", "body must be a JSON object, not a number", "body"),
    ],
)
def test_a_body_that_is_not_a_json_object_is_refused(body: bytes, message: str, field: str) -> None:
    refused = refusal(body)
    assert (str(refused), refused.field) == (message, field)


def pagent(**fields: object) -> dict[str, object]:
    return beacon(pagent=dict(fields))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({**beacon(), "email": "a@b.c"}, "unknown key 'email' (allowed: consent, ids, ref, v)"),
        ({**beacon(), "v": 2}, "v: must be 1, not 2"),
        ({**beacon(), "v": True}, "v: must be 1, not True"),
        ({**beacon(), "v": 1.0}, "v: must be 1, not 1.0"),
        ({**beacon(), "v": "1"}, "v: must be 1, not '1'"),
        ({k: v for k, v in beacon().items() if k != "v"}, "v: must be 1, not None"),
        (
            {**beacon(), "ref": "short"},
            "ref: must be 22 to 64 characters of A-Za-z0-9_-, not 'short'",
        ),
        (
            {**beacon(), "ref": REF + "!"},
            "ref: must be 22 to 64 characters of A-Za-z0-9_-, not a str of 25 characters",
        ),
        (
            {**beacon(), "ref": "r" * 65},
            "ref: must be 22 to 64 characters of A-Za-z0-9_-, not a str of 65 characters",
        ),
        ({**beacon(), "ref": 12345}, "ref: must be 22 to 64 characters of A-Za-z0-9_-, not 12345"),
        ({**beacon(), "consent": "yes"}, "consent: must be granted, denied or pending, not 'yes'"),
        (
            {**beacon(), "consent": ["granted"]},
            "consent: must be granted, denied or pending, not a list of 1 items",
        ),
        (
            {**beacon(), "ids": {}},
            "ids: must be an object with at least one vendor, not a dict of 0 items",
        ),
        (
            {**beacon(), "ids": ["pagent"]},
            "ids: must be an object with at least one vendor, not a list of 1 items",
        ),
        (
            beacon(optimizely={"id": "x"}),
            "ids: unknown vendor 'optimizely' (known: pagent, convert, conductrics, scanova)",
        ),
        (beacon(pagent={}), "ids.pagent: must be an object with at least one id"),
        (beacon(pagent="s_1"), "ids.pagent: must be an object with at least one id"),  # type: ignore[arg-type]
        (
            pagent(visit_id="v"),
            "ids.pagent: unknown key 'visit_id' (allowed: session_id, user_id, conversion_id)",
        ),
        (pagent(session_id=7), "ids.pagent.session_id: must be a string, not a number"),
        (pagent(session_id=None), "ids.pagent.session_id: must be a string, not null"),
        (
            pagent(session_id={"a": {"b": {}}}),
            "ids.pagent.session_id: must be a string, not an object",
        ),
        (pagent(session_id=""), "ids.pagent.session_id: must be 1 to 200 characters, not 0"),
        (
            pagent(session_id="s" * 201),
            "ids.pagent.session_id: must be 1 to 200 characters, not 201",
        ),
        (pagent(session_id="s\x00"), "ids.pagent.session_id: must not hold control characters"),
        (pagent(session_id="s\n"), "ids.pagent.session_id: must not hold control characters"),
        (pagent(session_id="s\u202e"), "ids.pagent.session_id: must not hold control characters"),
        (
            beacon(convert={"bucketing": "1:2"}),
            "ids.convert.bucketing: must be an object of strings, not a string",
        ),
        (
            beacon(convert={"bucketing": {**BUCKETING, "x": "y"}}),
            "ids.convert.bucketing: at most 50 entries, not 51",
        ),
        (
            beacon(convert={"segments": {"k": 1}}),
            "ids.convert.segments['k']: must be a string, not a number",
        ),
        (
            beacon(convert={"segments": {"k": "v" * 101}}),
            "ids.convert.segments['k']: must be 1 to 100 characters, not 101",
        ),
        (
            beacon(convert={"segments": {"k" * 101: "v"}}),
            "ids.convert.segments: a key must be 1 to 100 characters, not 101",
        ),
        (
            beacon(convert={"segments": {"k\x00": "v"}}),
            "ids.convert.segments: a key must not hold control characters",
        ),
    ],
)
def test_anything_but_the_schema_is_refused_naming_the_field(
    body: dict[str, object], message: str
) -> None:
    assert str(refusal(body)) == message


def test_a_vendor_the_ledger_does_not_take_is_refused_by_name() -> None:
    refused = refusal(beacon(scanova={"session_id": "x"}), ("pagent", "convert"))
    assert str(refused) == "ids.scanova: this ledger does not take scanova ids"


def test_a_refusal_never_repeats_a_long_or_odd_value() -> None:
    hostile = "<script>" + "x" * 5000
    for body in (
        {**beacon(), "ref": hostile},
        {**beacon(), hostile: 1},
        beacon(**{hostile: {"id": "x"}}),
        pagent(**{hostile: "x"}),
        beacon(convert={"segments": {"k" * 90: hostile}}),
    ):
        refused = refusal(body)
        assert "x" * 100 not in str(refused)
        assert len(str(refused)) < 300
        assert hostile not in refused.field
