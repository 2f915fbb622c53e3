"""The identity ledger's behaviour, held alike by SQLite, PostgreSQL and the in-memory ledger:
each vendor's latest ids per reference, the first link of a key, nothing expired recalled."""

from __future__ import annotations

import asyncio
import importlib
from pathlib import Path

import pytest

from bridge.store import open_store
from bridge.store.base import EventFilter, StoreRefused
from bridge.store.identities import (
    CapturedIds,
    Holdings,
    Identities,
    KnownIdentity,
    Link,
    Sighting,
    VendorIds,
)
from bridge.store.migrations import Migration, pending
from bridge.store.sqlite import SQLiteStore, connect, migrate
from bridge.store.sqlite.identities import LINK, RECALL, REMEMBER
from tests.store.conftest import HOUR, NOW, new_event

REF = "r3f_0123456789abcdefghij"
OTHER_REF = "r3f_zyxwvutsrqponmlkjihg"
TTL = 90 * 24 * HOUR
PAGENT = {"session_id": "s_1", "user_id": "u_1", "conversion_id": "c_1"}
CONVERT = {"visitor_id": "v_1", "bucketing": {"100": "200"}, "segments": {"country": "NL"}}


def seen(
    vendor: str = "pagent",
    ids: VendorIds | None = None,
    *,
    ref: str = REF,
    at: int = NOW,
    ledger: str = "web",
    ttl: int = TTL,
) -> Sighting:
    return Sighting(ledger, ref, vendor, PAGENT if ids is None else ids, at, at + ttl)


def tie(key: str, ref: str = REF, *, at: int = NOW, ledger: str = "web", ttl: int = TTL) -> Link:
    return Link(ledger, key, ref, at, at + ttl)


async def test_what_a_browser_said_is_recalled_by_its_reference(identities: Identities) -> None:
    assert await identities.remember([seen("pagent"), seen("convert", CONVERT)]) == 2
    known = await identities.recall("web", REF, NOW + HOUR)
    assert known == KnownIdentity(
        "web",
        REF,
        {"convert": CapturedIds(CONVERT, NOW), "pagent": CapturedIds(PAGENT, NOW)},
        "ref",
    )


async def test_an_unknown_key_recalls_nothing(identities: Identities) -> None:
    await identities.remember([seen()])
    assert await identities.recall("web", OTHER_REF, NOW) is None
    assert await identities.recall("web", "customer:cus_unknown", NOW) is None


async def test_a_newer_capture_replaces_one_vendors_ids_and_keeps_the_others(
    identities: Identities,
) -> None:
    await identities.remember([seen("pagent"), seen("convert", CONVERT)])
    newer = {"session_id": "s_2", "user_id": "u_1", "conversion_id": "c_2"}
    assert await identities.remember([seen("pagent", newer, at=NOW + HOUR)]) == 1
    known = await identities.recall("web", REF, NOW + HOUR)
    assert known is not None
    assert known.vendors == {
        "convert": CapturedIds(CONVERT, NOW),
        "pagent": CapturedIds(newer, NOW + HOUR),
    }


async def test_an_older_capture_never_overwrites_a_newer_one(identities: Identities) -> None:
    """Beacons may arrive out of order (a retried fetch, two tabs)."""
    await identities.remember([seen(at=NOW + HOUR)])
    stale = {"session_id": "s_old", "user_id": "u_1", "conversion_id": "c_old"}
    assert await identities.remember([seen(ids=stale, at=NOW)]) == 0
    known = await identities.recall("web", REF, NOW + HOUR)
    assert known is not None
    assert known.vendors["pagent"] == CapturedIds(PAGENT, NOW + HOUR)


async def test_an_identical_repeat_writes_nothing(identities: Identities) -> None:
    await identities.remember([seen()])
    same_ids_other_order = dict(reversed(list(PAGENT.items())))
    assert await identities.remember([seen(ids=same_ids_other_order, at=NOW + HOUR)]) == 0
    known = await identities.recall("web", REF, NOW + 2 * HOUR)
    assert known is not None
    assert known.vendors["pagent"].captured_at == NOW  # when these ids were first seen


async def test_one_call_keeps_the_latest_capture_of_each_vendor(identities: Identities) -> None:
    later = {"session_id": "s_2"}
    assert await identities.remember([seen(ids=later, at=NOW + 1), seen(at=NOW)]) == 1
    known = await identities.recall("web", REF, NOW)
    assert known is not None
    assert known.vendors == {"pagent": CapturedIds(later, NOW + 1)}


async def test_a_linked_key_recalls_its_reference_and_says_so(identities: Identities) -> None:
    await identities.remember([seen()])
    assert await identities.link([tie("customer:cus_1")]) == 1
    known = await identities.recall("web", "customer:cus_1", NOW + HOUR)
    assert known == KnownIdentity(
        "web", REF, {"pagent": CapturedIds(PAGENT, NOW)}, "customer:cus_1"
    )


async def test_the_first_link_of_a_key_wins(identities: Identities) -> None:
    """A renewal credits the visitor who first paid, whoever paid with the customer since."""
    await identities.remember([seen(), seen(ref=OTHER_REF, ids={"session_id": "s_other"})])
    assert await identities.link([tie("customer:cus_1", REF)]) == 1
    assert await identities.link([tie("customer:cus_1", OTHER_REF, at=NOW + HOUR)]) == 0
    assert await identities.link([tie("customer:cus_2"), tie("customer:cus_2", OTHER_REF)]) == 1
    for key in ("customer:cus_1", "customer:cus_2"):
        known = await identities.recall("web", key, NOW + HOUR)
        assert known is not None
        assert known.ref == REF


async def test_a_reference_wins_over_a_link_with_the_same_key(identities: Identities) -> None:
    await identities.remember([seen(), seen(ref=OTHER_REF, ids={"session_id": "s_other"})])
    await identities.link([tie(OTHER_REF, REF)])
    known = await identities.recall("web", OTHER_REF, NOW)
    assert known is not None
    assert (known.ref, known.via) == (OTHER_REF, "ref")


async def test_nothing_expired_is_recalled_and_retention_forgets_it(
    identities: Identities,
) -> None:
    await identities.remember([seen("pagent", ttl=HOUR), seen("convert", CONVERT, ttl=3 * HOUR)])
    await identities.link([tie("customer:cus_1", ttl=2 * HOUR)])
    known = await identities.recall("web", "customer:cus_1", NOW + HOUR)
    assert known is not None
    assert list(known.vendors) == ["convert"]  # pagent's ids expired at NOW + HOUR
    assert await identities.recall("web", "customer:cus_1", NOW + 2 * HOUR) is None
    assert await identities.recall("web", REF, NOW + 2 * HOUR) is not None
    assert await identities.recall("web", REF, NOW + 3 * HOUR) is None

    assert await identities.forget_expired(NOW + HOUR - 1) == 0
    assert await identities.forget_expired(NOW + 2 * HOUR) == 2  # pagent's sighting, the link
    assert await identities.forget_expired(NOW + 3 * HOUR) == 1
    assert await identities.forget_expired(NOW + 3 * HOUR) == 0


async def test_a_link_to_a_forgotten_reference_recalls_nothing(identities: Identities) -> None:
    await identities.remember([seen(ttl=HOUR)])
    await identities.link([tie("customer:cus_1")])
    assert await identities.recall("web", "customer:cus_1", NOW + HOUR) is None


async def test_an_expired_link_gives_way_to_a_new_one(identities: Identities) -> None:
    """Whether retention has swept it yet or not, an expired link is gone."""
    await identities.remember([seen(ref=OTHER_REF, at=NOW + 2 * HOUR)])
    await identities.link([tie("customer:cus_1", REF, ttl=HOUR)])
    assert await identities.link([tie("customer:cus_1", OTHER_REF, at=NOW + 2 * HOUR)]) == 1
    known = await identities.recall("web", "customer:cus_1", NOW + 2 * HOUR)
    assert known is not None
    assert known.ref == OTHER_REF


async def test_ids_seen_again_after_they_expired_are_kept_again(identities: Identities) -> None:
    await identities.remember([seen(ttl=HOUR)])
    assert await identities.remember([seen(at=NOW + 2 * HOUR)]) == 1
    known = await identities.recall("web", REF, NOW + 2 * HOUR)
    assert known is not None
    assert known.vendors["pagent"].captured_at == NOW + 2 * HOUR


async def test_ledgers_are_separate(identities: Identities) -> None:
    await identities.remember([seen(ledger="web")])
    await identities.link([tie("customer:cus_1", ledger="web")])
    assert await identities.recall("shop", REF, NOW) is None
    assert await identities.recall("shop", "customer:cus_1", NOW) is None
    await identities.remember([seen(ids={"session_id": "s_shop"}, ledger="shop")])
    web = await identities.recall("web", REF, NOW)
    shop = await identities.recall("shop", REF, NOW)
    assert web is not None
    assert shop is not None
    assert web.vendors["pagent"].ids == PAGENT
    assert shop.vendors["pagent"].ids == {"session_id": "s_shop"}


@pytest.mark.parametrize(
    "sighting",
    [
        seen(ref="r3f_\x00_0123456789abcdefg"),
        seen(ledger="w\x00b"),
        seen(vendor="pag\x00ent"),
        seen(ids={"session_id": "s\x00"}),
        seen("convert", {"visitor_id": "v", "bucketing": {"1\x00": "2"}}),
    ],
)
async def test_a_nul_character_is_refused_and_nothing_is_kept(
    identities: Identities, sighting: Sighting
) -> None:
    with pytest.raises(StoreRefused):
        await identities.remember([seen("convert", CONVERT), sighting])
    assert await identities.recall(sighting.ledger, sighting.ref, NOW) is None
    assert await identities.recall("web", REF, NOW) is None


async def test_a_key_with_a_nul_character_recalls_nothing(identities: Identities) -> None:
    """A webhook's reference is what a sender wrote: one no store can hold was never stored."""
    await identities.remember([seen()])
    assert await identities.recall("web", REF + "\x00", NOW) is None
    assert await identities.recall("w\x00eb", REF, NOW) is None


async def test_a_link_with_a_nul_character_is_refused(identities: Identities) -> None:
    await identities.remember([seen()])
    with pytest.raises(StoreRefused):
        await identities.link([tie("customer:cus_1"), tie("customer:\x00")])
    assert await identities.recall("web", "customer:cus_1", NOW) is None


async def test_empty_calls_change_nothing(identities: Identities) -> None:
    assert await identities.remember([]) == 0
    assert await identities.link([]) == 0


async def test_holdings_list_each_vendors_ids_with_their_expiry_and_the_links(
    identities: Identities,
) -> None:
    """What `bridge identities show` prints: more than a recall reads (expiry, every link)."""
    await identities.remember([seen("pagent", at=NOW + HOUR), seen("convert", CONVERT, ttl=HOUR)])
    await identities.link([tie("cus_2", at=NOW + HOUR), tie("cus_1"), tie("sub_1")])
    held = await identities.holdings("web", REF, NOW + 1)
    assert held == Holdings(
        (
            Sighting("web", REF, "convert", CONVERT, NOW, NOW + HOUR),
            Sighting("web", REF, "pagent", PAGENT, NOW + HOUR, NOW + HOUR + TTL),
        ),
        (tie("cus_1"), tie("sub_1"), tie("cus_2", at=NOW + HOUR)),
    )


async def test_holdings_leave_out_what_expired_and_other_references_and_ledgers(
    identities: Identities,
) -> None:
    await identities.remember(
        [
            seen("pagent", ttl=HOUR),
            seen("convert", CONVERT),
            seen(ref=OTHER_REF),
            seen(ledger="shop", ids={"session_id": "s_shop"}),
        ]
    )
    await identities.link(
        [
            tie("cus_1", ttl=HOUR),
            tie("cus_2"),
            tie("cus_other", OTHER_REF),
            tie("cus_1", ledger="shop"),
        ]
    )
    held = await identities.holdings("web", REF, NOW + HOUR)
    assert [(s.vendor, s.ids) for s in held.sightings] == [("convert", CONVERT)]
    assert [link.key for link in held.links] == ["cus_2"]
    shop = await identities.holdings("shop", REF, NOW)
    assert [s.ids for s in shop.sightings] == [{"session_id": "s_shop"}]
    assert [link.key for link in shop.links] == ["cus_1"]


@pytest.mark.parametrize(
    ("ledger", "ref"),
    [("web", OTHER_REF), ("shop", REF), ("web", "cus_1"), ("web", REF + "\x00"), ("w\x00eb", REF)],
)
async def test_holdings_of_a_reference_never_seen_are_empty(
    identities: Identities, ledger: str, ref: str
) -> None:
    """A link key is no reference: `holdings` reads by the reference a recall found."""
    await identities.remember([seen()])
    await identities.link([tie("cus_1")])
    assert await identities.holdings(ledger, ref, NOW) == Holdings((), ())


async def test_concurrent_beacons_share_commits(tmp_path: Path) -> None:
    store = await SQLiteStore.open(tmp_path / "b.db")
    try:
        refs = [f"r3f_{n:020d}" for n in range(200)]
        changed = await asyncio.gather(*(store.remember([seen(ref=ref)]) for ref in refs))
        assert changed == [1] * 200
        assert store.writer.jobs == 200
        assert store.writer.commits < 200  # several beacons per fsync
        recalled = await asyncio.gather(*(store.recall("web", ref, NOW) for ref in refs))
        assert [known.ref if known else None for known in recalled] == refs
    finally:
        await store.close()


def test_ledger_statements_build_no_temporary_tables(tmp_path: Path) -> None:
    """Each would be a b-tree made and dropped per beacon (docs/benchmarks.md, "the store's
    statements")."""
    path = tmp_path / "b.db"
    migrate(path)
    connection = connect(path, 1000)
    for sql, count in ((REMEMBER, 6), (LINK, 5), (RECALL, 3)):
        program = [row[1] for row in connection.execute(f"EXPLAIN {sql}", (None,) * count)]
        assert "OpenEphemeral" not in program, sql


async def test_a_store_from_before_the_ledger_migrates_with_its_events(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def before_the_ledger(dialect: str, current: int) -> list[Migration]:
        waiting = pending(dialect, current)
        ledger = next(m.version for m in pending(dialect, 0) if m.name == "identities")
        return [m for m in waiting if m.version < ledger]

    with monkeypatch.context() as patched:
        for dialect in ("sqlite", "postgres"):
            migrator = importlib.import_module(f"bridge.store.{dialect}.migrate")
            patched.setattr(migrator, "pending", before_the_ledger)
        old = await open_store(database_url)
        await old.ingest([new_event("evt_old", ("pagent", "k_old"))])
        previous = await old.schema_version()
        await old.close()
    store = await open_store(database_url)
    try:
        assert await store.schema_version() > previous
        [event] = await store.list_events(EventFilter(), 10)
        assert (event.event_id, event.outcome, event.payload_kept) == ("evt_old", "accepted", True)
        assert await store.remember([seen()]) == 1
        assert await store.recall("web", REF, NOW) is not None
        [repeat] = await store.ingest([new_event("evt_old", ("pagent", "k_old"))])
        assert repeat.outcome == "duplicate"
    finally:
        await store.close()
