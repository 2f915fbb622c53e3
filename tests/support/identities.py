"""An identity ledger held in memory, for unit tests of what reads and writes it without a
database (the beacon endpoint, the mapping's lookups).

It keeps the real stores' rules (`bridge.store.identity_rules`): each vendor's latest ids, an
identical repeat or an older capture changing nothing, the first link winning, nothing expired
recalled. `tests/store/test_identities.py` holds it to the same behaviour as both real stores.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from bridge.store.identities import Holdings, KnownIdentity, Link, Sighting
from bridge.store.identity_rules import (
    check_links,
    check_sightings,
    first_links,
    holdings,
    ids_text,
    known_identity,
    latest_sightings,
    unrecallable,
)


class MemoryIdentities:
    """`Identities` in dicts; `sightings` and `links` are there to be read by tests."""

    def __init__(self) -> None:
        self.sightings: dict[tuple[str, str, str], Sighting] = {}
        self.links: dict[tuple[str, str], Link] = {}

    async def remember(self, sightings: Sequence[Sighting]) -> int:
        check_sightings(sightings)
        changed = 0
        for sighting in latest_sightings(sightings):
            key = (sighting.ledger, sighting.ref, sighting.vendor)
            held = self.sightings.get(key)
            if held is None or _replaces(sighting, held):
                self.sightings[key] = sighting
                changed += 1
        return changed

    async def link(self, links: Sequence[Link]) -> int:
        check_links(links)
        new = 0
        for link in first_links(links):
            held = self.links.get((link.ledger, link.key))
            if held is None or held.expires_at <= link.linked_at:
                self.links[(link.ledger, link.key)] = link
                new += 1
        return new

    async def recall(self, ledger: str, key: str, now: int) -> KnownIdentity | None:
        if unrecallable(ledger, key):
            return None
        rows: list[tuple[str | None, str, str, str, int]]
        rows = [(None, *row) for row in self._live(ledger, key, now)]
        link = self.links.get((ledger, key))
        if link is not None and link.expires_at > now:
            rows += [(key, *row) for row in self._live(ledger, link.ref, now)]
        return known_identity(ledger, rows)

    async def holdings(self, ledger: str, ref: str, now: int) -> Holdings:
        sightings = [
            (held.vendor, ids_text(held.ids), held.captured_at, held.expires_at)
            for held in self._held(ledger, ref, now)
        ]
        links = [
            (link.key, link.linked_at, link.expires_at)
            for link in self.links.values()
            if (link.ledger, link.ref) == (ledger, ref) and link.expires_at > now
        ]
        return holdings(ledger, ref, sightings, links)

    async def forget_expired(self, now: int) -> int:
        sightings = [key for key, held in self.sightings.items() if held.expires_at <= now]
        links = [key for key, link in self.links.items() if link.expires_at <= now]
        for sighting in sightings:
            del self.sightings[sighting]
        for link in links:
            del self.links[link]
        return len(sightings) + len(links)

    def _live(self, ledger: str, ref: str, now: int) -> Iterator[tuple[str, str, str, int]]:
        """(ref, vendor, ids as JSON, captured_at) of `ref`'s unexpired sightings."""
        for held in self._held(ledger, ref, now):
            yield held.ref, held.vendor, ids_text(held.ids), held.captured_at

    def _held(self, ledger: str, ref: str, now: int) -> Iterator[Sighting]:
        """`ref`'s unexpired sightings."""
        for held in self.sightings.values():
            if (held.ledger, held.ref) == (ledger, ref) and held.expires_at > now:
                yield held


def _replaces(new: Sighting, held: Sighting) -> bool:
    """What the stores' upsert decides: a capture no older than the held one replaces it when
    its ids differ or the held one has expired by then."""
    if new.captured_at < held.captured_at:
        return False
    return ids_text(new.ids) != ids_text(held.ids) or held.expires_at <= new.captured_at
