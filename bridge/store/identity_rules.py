"""The identity ledger's rules, written once for every dialect (and the in-memory ledger): what
the stores refuse, which of a call's records count, how ids are kept as text, and how rows read
back as a `KnownIdentity`. Each store runs its own SQL around them."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from bridge.store.base import StoreRefused
from bridge.store.identities import (
    CapturedIds,
    Holdings,
    KnownIdentity,
    Link,
    Sighting,
    VendorIds,
)

BY_REF = "ref"
"""`KnownIdentity.via` when the key recalled was the reference itself."""


def check_sightings(sightings: Sequence[Sighting]) -> None:
    """Raise `StoreRefused` when a sighting holds a NUL character: PostgreSQL's text and jsonb
    refuse it, so both stores do, as they do for events."""
    for sighting in sightings:
        if _holds_nul((sighting.ledger, sighting.ref, sighting.vendor)) or _holds_nul(sighting.ids):
            raise StoreRefused("a sighting holds a NUL character, which the store cannot keep")


def check_links(links: Sequence[Link]) -> None:
    """Raise `StoreRefused` when a link holds a NUL character (as `check_sightings`)."""
    for link in links:
        if _holds_nul((link.ledger, link.key, link.ref)):
            raise StoreRefused("a link holds a NUL character, which the store cannot keep")


def unrecallable(ledger: str, key: str) -> bool:
    """Whether nothing can be stored under `key` (it holds a NUL character): its recall is
    None on every store, not an error PostgreSQL would raise."""
    return "\x00" in key or "\x00" in ledger


def _holds_nul(value: Any) -> bool:
    """Whether a JSON value (keys included) holds a NUL character anywhere."""
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(key) or _holds_nul(item) for key, item in value.items())
    if isinstance(value, list | tuple):
        return any(_holds_nul(item) for item in value)
    return False


def latest_sightings(sightings: Sequence[Sighting]) -> list[Sighting]:
    """One sighting per (ledger, ref, vendor), the latest capture (the later one of a tie): a
    call then changes each row at most once, which PostgreSQL's upsert requires and makes the
    count the number of rows changed on either store."""
    latest: dict[tuple[str, str, str], Sighting] = {}
    for sighting in sightings:
        key = (sighting.ledger, sighting.ref, sighting.vendor)
        kept = latest.get(key)
        if kept is None or sighting.captured_at >= kept.captured_at:
            latest[key] = sighting
    return list(latest.values())


def first_links(links: Sequence[Link]) -> list[Link]:
    """One link per (ledger, key), the first of the call: the first link wins."""
    first: dict[tuple[str, str], Link] = {}
    for link in links:
        first.setdefault((link.ledger, link.key), link)
    return list(first.values())


def ids_text(ids: VendorIds) -> str:
    """Ids as the stores keep them: JSON with sorted keys, so the same ids are the same text
    and an identical repeat compares equal."""
    return orjson.dumps(ids, option=orjson.OPT_SORT_KEYS).decode()


def rows_to_remember(sightings: Sequence[Sighting]) -> list[tuple[str, str, str, str, int, int]]:
    """The rows a `remember` call upserts, (ledger, ref, vendor, ids, captured_at, expires_at)
    each, one per vendor of a reference; raises `StoreRefused` as `check_sightings`."""
    check_sightings(sightings)
    return [
        (s.ledger, s.ref, s.vendor, ids_text(s.ids), s.captured_at, s.expires_at)
        for s in latest_sightings(sightings)
    ]


def rows_to_link(links: Sequence[Link]) -> list[tuple[str, str, str, int, int]]:
    """The rows a `link` call inserts, (ledger, key, ref, linked_at, expires_at) each, one per
    key; raises `StoreRefused` as `check_links`."""
    check_links(links)
    return [(k.ledger, k.key, k.ref, k.linked_at, k.expires_at) for k in first_links(links)]


def known_identity(ledger: str, rows: Iterable[Sequence[Any]]) -> KnownIdentity | None:
    """The identity a recall's rows name, or None when there are none.

    Each row is (link key, or None when found by the reference itself; ref; vendor; ids as
    JSON; captured_at), unexpired only. Rows found by the reference win over rows found
    through a link, so a key that is a reference means that reference.
    """
    by_ref: list[Sequence[Any]] = []
    by_link: list[Sequence[Any]] = []
    for row in rows:
        (by_link if row[0] is not None else by_ref).append(row)
    chosen = by_ref or by_link
    if not chosen:
        return None
    vendors = {
        vendor: CapturedIds(orjson.loads(ids), captured_at)
        for _, _, vendor, ids, captured_at in sorted(chosen, key=lambda row: row[2])
    }
    via = BY_REF if chosen is by_ref else chosen[0][0]
    return KnownIdentity(ledger, chosen[0][1], vendors, via)


NOTHING_HELD = Holdings((), ())


def holdings(
    ledger: str,
    ref: str,
    sightings: Iterable[Sequence[Any]],
    links: Iterable[Sequence[Any]],
) -> Holdings:
    """What a `holdings` read's rows say, in one order on every store (their collations of
    text differ): sightings (vendor, ids as JSON, captured_at, expires_at) by vendor, links
    (key, linked_at, expires_at) by when they were linked, then by key."""
    return Holdings(
        tuple(
            Sighting(ledger, ref, vendor, orjson.loads(ids), captured_at, expires_at)
            for vendor, ids, captured_at, expires_at in sorted(sightings, key=lambda row: row[0])
        ),
        tuple(
            Link(ledger, key, ref, linked_at, expires_at)
            for key, linked_at, expires_at in sorted(links, key=lambda row: (row[1], row[0]))
        ),
    )
