"""Receiving a beacon: what a browser said about a visitor, kept by the visitor's reference.

The endpoint has already checked the ledger, the origin, the rate and the body's shape; this
decides what is kept and for how long. A ledger that requires consent keeps nothing from a
beacon without `consent: granted`, and answers it as it answers a stored one (204), so a page
cannot tell one visitor's choice from another's by the answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from bridge.identity.beacon import Beacon
from bridge.identity.config import LedgerConfig
from bridge.store.base import StoreUnavailable
from bridge.store.identities import Identities, Sighting


@dataclass(frozen=True, slots=True)
class Identified:
    """What became of a beacon: the status to answer, and for a refusal the reason."""

    status: int
    stored: int = 0
    """How many (ref, vendor) the store changed: 0 for an identical repeat or no consent."""
    reason: str | None = None


def sightings(name: str, ledger: LedgerConfig, beacon: Beacon, now: int) -> list[Sighting]:
    """One sighting per vendor block, kept for the ledger's TTL from `now` (unix ms); none when
    the beacon denies consent, or the ledger requires consent and the beacon does not grant it."""
    if beacon.consent == "denied" or (ledger.require_consent and beacon.consent != "granted"):
        return []
    expires_at = now + ledger.ttl_ms
    return [
        Sighting(name, beacon.ref, vendor, ids, now, expires_at)
        for vendor, ids in beacon.ids.items()
    ]


async def identify(
    identities: Identities, name: str, ledger: LedgerConfig, beacon: Beacon, now: int
) -> Identified:
    """Keep what `beacon` says in ledger `name`, durably, before the browser is answered."""
    kept = sightings(name, ledger, beacon, now)
    if not kept:
        return Identified(204)
    try:
        stored = await identities.remember(kept)
    except StoreUnavailable:
        return Identified(503, reason="store unavailable")
    return Identified(204, stored)
