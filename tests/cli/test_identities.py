"""`identities show`, the identity lines of `events show`, and the lookup `try` shows, over a
real SQLite file (and the PostgreSQL server) filled by real beacons' sightings and the real
ingest of a Stripe-signed checkout."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.cli import main
from bridge.mapping import load_config
from bridge.store import open_store
from bridge.store.base import EventFilter
from bridge.store.identities import Sighting
from bridge.use_cases.ingest import Ingestor
from bridge.utilities.times import format_moment
from tests.support import stripe as s
from tests.support.mappings import ENVIRON, PAGENT, SOURCE, write_mappings

REF = "r3f_0123456789abcdefghij"
DAY = 86_400_000
TTL = 90 * DAY
CAPTURED = {"session_id": "sess-captured", "user_id": "user-7", "conversion_id": "c_1"}
BUCKETING = {"visitor_id": "v_1", "bucketing": {"100": "200"}}

JOINED = Path(__file__).with_name("identity.yaml")
"""Two ledgers, `web` and `shop`; rule `paid` reads `web` by the checkout's reference or
customer, and links the customer."""


@pytest.fixture(autouse=True)
def mappings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=JOINED.read_text())
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(folder))
    return folder


def now_ms() -> int:
    return int(time.time() * 1000)


def sighting(vendor: str, ids: dict[str, Any], captured_at: int, ref: str = REF) -> Sighting:
    return Sighting("web", ref, vendor, ids, captured_at, captured_at + TTL)


async def beacon_then_checkouts(
    url: str, mappings: Path, captured_at: int, *checkouts: dict[str, Any]
) -> list[str]:
    """A beacon's ids in the ledger, then each checkout (`{"id": ..., field: value}` set on
    `data.object`) through the real ingest, as `bridge serve` takes both; their outcomes."""
    store = await open_store(url)
    try:
        await store.remember(
            [sighting("pagent", CAPTURED, captured_at), sighting("convert", BUCKETING, captured_at)]
        )
        ingest = Ingestor(load_config(mappings, ENVIRON), store, identities=store)
        outcomes = []
        for checkout in checkouts:
            event_id, fields = checkout["id"], {k: v for k, v in checkout.items() if k != "id"}
            payload = s.event("checkout.session.completed", event_id=event_id, **fields)
            reply = await ingest.receive("stripe", s.inbound(payload))
            outcomes.append(reply.body["status"])
        return outcomes
    finally:
        await store.close()


PAID = {"id": "evt_paid", "client_reference_id": REF, "customer": "cus_1"}
"""The first paid checkout: it carries the reference, and links its customer to it."""


def run(capsys: pytest.CaptureFixture[str], *command: str) -> tuple[int, str]:
    capsys.readouterr()
    status = main(list(command))
    return status, capsys.readouterr().out


@pytest.fixture(params=["sqlite", "postgres"])
def store_url(
    request: pytest.FixtureRequest, environment: Path, monkeypatch: pytest.MonkeyPatch
) -> str:
    """The CLI's store: the SQLite file of `environment`, or a schema of the test server."""
    if request.param == "sqlite":
        return f"sqlite:///{environment}"
    url: str = request.getfixturevalue("postgres_url")
    monkeypatch.setenv("BRIDGE_DATABASE_URL", url)
    return url


def test_identities_show_finds_a_reference_by_itself_and_by_its_linked_customer(
    store_url: str, mappings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_at = now_ms() - 60_000
    outcomes = asyncio.run(beacon_then_checkouts(store_url, mappings, captured_at, PAID))
    assert outcomes == ["accepted"]
    status, out = run(capsys, "identities", "show", REF)
    assert status == 0
    lines = out.splitlines()
    assert lines[0] == f"ledger 'web': reference {REF!r}, found by the reference itself"
    at, until = format_moment(captured_at), format_moment(captured_at + TTL)
    assert lines[1:9] == [
        f"  convert: captured {at}, expires {until}",
        "    bucketing   {'100': '200'}",
        "    visitor_id  'v_1'",
        f"  pagent: captured {at}, expires {until}",
        "    conversion_id  'c_1'",
        "    session_id     'sess-captured'",
        "    user_id        'user-7'",
        "  linked keys",
    ]
    assert lines[9].startswith("    'cus_1': linked ")
    assert len(lines) == 10

    status, out = run(capsys, "identities", "show", "cus_1", "--ledger", "web")
    assert status == 0
    assert out.splitlines()[0] == (
        f"ledger 'web': reference {REF!r}, found by the link key 'cus_1'"
    )

    [found] = json_of(capsys, "identities", "show", "cus_1")
    assert found["ref"] == REF
    assert found["via"] == "cus_1"
    assert found["vendors"]["pagent"] == {
        "ids": CAPTURED,
        "captured_at": captured_at,
        "expires_at": captured_at + TTL,
    }
    [link] = found["links"]
    assert (link["key"], link["expires_at"] - link["linked_at"]) == ("cus_1", TTL)


def json_of(capsys: pytest.CaptureFixture[str], *command: str, status: int = 0) -> Any:
    capsys.readouterr()
    assert main([*command, "--json"]) == status
    return orjson.loads(capsys.readouterr().out)


def test_identities_show_says_when_nothing_is_known_and_fails(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(remember(store_url, sighting("pagent", CAPTURED, now_ms() - 2 * TTL)))  # expired
    assert run(capsys, "identities", "show", REF) == (
        1,
        f"nothing known for {REF!r} in ledgers 'web', 'shop'\n",
    )
    assert run(capsys, "identities", "show", "cus_9", "--ledger", "web") == (
        1,
        "nothing known for 'cus_9' in ledger 'web'\n",
    )
    assert json_of(capsys, "identities", "show", REF, status=1) == []


async def remember(url: str, *sightings: Sighting) -> None:
    store = await open_store(url)
    try:
        await store.remember(sightings)
    finally:
        await store.close()


def test_identities_show_escapes_what_a_browser_sent(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Ids are what a browser sent: a terminal escape in one is printed escaped, never run."""
    hostile = {"session_id": "s\x1b]0;owned\x07", "user_id": "u\u202eevil"}
    asyncio.run(remember(f"sqlite:///{environment}", sighting("pagent", hostile, now_ms())))
    status, out = run(capsys, "identities", "show", REF)
    assert status == 0
    assert "    session_id  's\\x1b]0;owned\\x07'" in out.splitlines()
    assert "    user_id     'u\\u202eevil'" in out.splitlines()
    assert "\x1b" not in out
    assert "\u202e" not in out


def test_identities_show_without_a_store_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIDGE_DATABASE_URL", "sqlite:///data/bridge.db")
    assert main(["identities", "show", REF]) == 1
    assert capsys.readouterr().err == (
        f"error: no store at {tmp_path / 'data' / 'bridge.db'}"
        " (BRIDGE_DATABASE_URL is sqlite:///data/bridge.db): run this where bridge keeps its"
        " store, or set BRIDGE_DATABASE_URL\n"
    )
    assert not (tmp_path / "data").exists()


def test_events_show_says_which_identity_a_rule_used_and_from_which_key(
    store_url: str, mappings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_at = now_ms() - 60_000
    renewal = {"id": "evt_renewal", "client_reference_id": None, "customer": "cus_1"}
    unknown = {"id": "evt_unknown", "client_reference_id": None, "customer": "cus_unknown"}
    outcomes = asyncio.run(
        beacon_then_checkouts(store_url, mappings, captured_at, PAID, renewal, unknown)
    )
    assert outcomes == ["accepted", "accepted", "waiting_identity"]
    at = format_moment(captured_at)
    expected = {
        "evt_paid": f"ledger 'web', reference {REF!r} via the reference itself;"
        f" convert captured {at}, pagent captured {at}",
        "evt_renewal": f"ledger 'web', reference {REF!r} via the link key 'cus_1';"
        f" convert captured {at}, pagent captured {at}",
        "evt_unknown": "none known for this event's key",
    }
    for event_id, used in expected.items():
        status, out = run(capsys, "events", "show", event_id)
        assert status == 0
        assert out.splitlines()[-2:] == ["  identities", f"    paid: identity: {used}"]

    shown = json_of(capsys, "events", "show", "evt_renewal")
    assert shown["rules"][0]["identity"] == {
        "ledger": "web",
        "ref": REF,
        "via": "cus_1",
        "vendors": {
            "convert": {"captured_at": captured_at},
            "pagent": {"captured_at": captured_at},
        },
    }
    assert json_of(capsys, "events", "show", "evt_unknown")["rules"][0]["identity"] is None


def test_events_show_of_a_rule_without_identity_prints_no_identities(
    environment: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = s.REPO / "mappings"  # its rule reads the ids from the checkout's metadata
    monkeypatch.setenv("BRIDGE_MAPPINGS_DIR", str(shipped))
    outcomes = asyncio.run(
        beacon_then_checkouts(f"sqlite:///{environment}", shipped, now_ms(), PAID)
    )
    assert outcomes == ["accepted"]
    status, out = run(capsys, "events", "show", "evt_paid")
    assert status == 0
    assert "identit" not in out


def payload_file(tmp_path: Path, **fields: Any) -> str:
    path = tmp_path / "checkout.json"
    path.write_bytes(orjson.dumps(s.event("checkout.session.completed", **fields)))
    return str(path)


KEY_FROM = "`data.object.client_reference_id || data.object.customer`"


def test_try_shows_the_lookup_in_the_store_and_the_conversion_made_with_it(
    store_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    captured_at = now_ms() - 60_000
    asyncio.run(remember(store_url, sighting("pagent", CAPTURED, captured_at)))
    sample = payload_file(tmp_path, client_reference_id=REF, customer="cus_1")
    status, out = run(capsys, "try", "stripe", sample)
    assert status == 0
    lines = out.splitlines()
    start = lines.index("rule 'paid': converted")
    assert lines[start + 1 : start + 3] == [
        f"  identity: key {REF!r} ({KEY_FROM}) in ledger 'web'",
        f"  known: ledger 'web', reference {REF!r} via the reference itself;"
        f" pagent captured {format_moment(captured_at)}",
    ]
    assert '"session_id":"sess-captured","user_id":"user-7"' in lines[start + 3]
    assert asyncio.run(stored_events(store_url)) == 0  # a trial stores nothing

    [report] = json_of(capsys, "try", "stripe", sample)
    [rule] = report["rules"]
    assert rule["identity"] == {
        "ledger": "web",
        "key_from": KEY_FROM.strip("`"),
        "key": REF,
        "skipped": None,
        "wait_minutes": 15,
        "known": {
            "ledger": "web",
            "ref": REF,
            "via": "ref",
            "vendors": {"pagent": {"ids": CAPTURED, "captured_at": captured_at}},
        },
    }
    assert rule["conversion"]["user_id"] == "user-7"


async def stored_events(url: str) -> int:
    store = await open_store(url)
    try:
        return len(await store.list_events(EventFilter(), 10))
    finally:
        await store.close()


def test_try_finds_a_customer_linked_before_and_says_when_nothing_is_known(
    environment: Path, mappings: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{environment}"
    asyncio.run(beacon_then_checkouts(url, mappings, now_ms(), PAID))
    renewal = payload_file(tmp_path, client_reference_id=None, customer="cus_1")
    status, out = run(capsys, "try", "stripe", renewal)
    assert (status, "rule 'paid': converted") == (0, out.splitlines()[2])
    assert f"  known: ledger 'web', reference {REF!r} via the link key 'cus_1';" in out

    stranger = payload_file(tmp_path, client_reference_id=None, customer="cus_new")
    status, out = run(capsys, "try", "stripe", stranger)
    assert status == 0
    assert out.splitlines()[2].startswith("rule 'paid': unmapped")
    assert out.splitlines()[3:5] == [
        f"  identity: key 'cus_new' ({KEY_FROM}) in ledger 'web'",
        "  known: nothing for this key: a webhook with it waits up to 15 minutes for its"
        " beacon; evaluated with no identity",
    ]

    keyless = payload_file(tmp_path, client_reference_id=None, customer=None)
    status, out = run(capsys, "try", "stripe", keyless)
    assert out.splitlines()[3] == (
        f"  identity: the payload names no key ({KEY_FROM}): evaluated with no identity"
    )


def test_try_without_a_store_skips_the_lookup_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIDGE_DATABASE_URL", "sqlite:///data/bridge.db")
    sample = payload_file(tmp_path, client_reference_id=REF)
    status, out = run(capsys, "try", "stripe", sample)
    assert status == 0
    assert out.splitlines()[2].startswith("rule 'paid': unmapped (rule 'paid': session_id")
    assert out.splitlines()[3:5] == [
        f"  identity: key {REF!r} ({KEY_FROM}) in ledger 'web'",
        f"  lookup skipped (no store at {tmp_path / 'data' / 'bridge.db'}):"
        " evaluated with no identity",
    ]
    assert not (tmp_path / "data").exists()


def test_identities_show_finds_an_email_link_by_the_address(
    store_url: str, mappings: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The ledger keeps an email only as its hash; a person asks by the address."""
    rules = mappings / "rules.yaml"
    rules.write_text(
        rules.read_text().replace(
            "link: data.object.customer", "link: data.object.customer_details.email"
        )
    )
    checkout = {**PAID, "customer_details": {"email": "Jenny.Rosen@example.com"}}
    outcomes = asyncio.run(beacon_then_checkouts(store_url, mappings, now_ms(), checkout))
    assert outcomes == ["accepted"]
    status, out = run(capsys, "identities", "show", "jenny.rosen@EXAMPLE.com", "--ledger", "web")
    assert status == 0
    first = out.splitlines()[0]
    assert first.startswith(f"ledger 'web': reference {REF!r}, found by the link key 'email:")
    assert "jenny" not in out
