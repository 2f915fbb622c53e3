"""The identity ledger's records and role: what a visitor's browser said, kept by reference.

A browser posts the ids the experiment vendors gave it (pagent's session, Convert's visitor and
bucketing, ...) under one opaque reference; a webhook later carries that reference (a Payment
Link's `client_reference_id`) or a key linked to it (the Stripe customer of the first paid
checkout), and the mapping reads the ids back. Times are unix milliseconds, as in the outbox.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

VendorIds = Mapping[str, Any]
"""One vendor's ids as the browser gave them (`{"session_id": ..., "user_id": ...}`): plain JSON."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """One vendor's ids for one reference, as one beacon said them."""

    ledger: str
    ref: str
    vendor: str
    ids: VendorIds
    captured_at: int
    expires_at: int
    """When the ledger forgets them (captured_at + the ledger's TTL)."""


@dataclass(frozen=True, slots=True)
class Link:
    """A key a webhook carries (`customer:cus_123`), tied to the reference first seen with it."""

    ledger: str
    key: str
    ref: str
    linked_at: int
    expires_at: int


@dataclass(frozen=True, slots=True)
class CapturedIds:
    """One vendor's ids as the ledger holds them, with when the browser captured them."""

    ids: VendorIds
    captured_at: int


@dataclass(frozen=True, slots=True)
class KnownIdentity:
    """What the ledger knows for a key: the reference, each vendor's latest ids, and how the key
    led there (`ref`, or the link key that named the reference)."""

    ledger: str
    ref: str
    vendors: Mapping[str, CapturedIds]
    via: str
    """`ref` when the key was the reference itself, else the link key (`customer:cus_123`)."""


@dataclass(frozen=True, slots=True)
class Holdings:
    """Everything a ledger keeps for one reference and has not expired: what a person asks
    about the reference (`bridge identities show`), beyond what a webhook's lookup reads."""

    sightings: tuple[Sighting, ...]
    """Each vendor's latest ids with when they expire, by vendor."""
    links: tuple[Link, ...]
    """The keys tied to the reference, the earliest linked first."""


class Identities(Protocol):
    """The identity ledger's role: remember what browsers said, link keys, recall by either."""

    async def remember(self, sightings: Sequence[Sighting]) -> int:
        """Keep each vendor's latest ids per (ledger, ref, vendor) in one durable commit; an
        identical repeat writes nothing. Returns how many (ledger, ref, vendor) changed."""
        ...

    async def link(self, links: Sequence[Link]) -> int:
        """Tie each key to its reference unless the key is tied already (the first link wins,
        so a renewal credits the visitor who first paid). Returns how many links are new."""
        ...

    async def recall(self, ledger: str, key: str, now: int) -> KnownIdentity | None:
        """The identity `key` names in `ledger`: a reference, or a link key tied to one; None
        when neither is known or everything known has expired by `now`."""
        ...

    async def holdings(self, ledger: str, ref: str, now: int) -> Holdings:
        """What `ledger` keeps for the reference `ref` that has not expired by `now`: for
        people reading the ledger; a webhook's lookup is `recall`."""
        ...

    async def forget_expired(self, now: int) -> int:
        """Delete sightings and links whose `expires_at` has passed; returns how many rows."""
        ...


class HoldsIdentities:
    """A store that keeps the ledger in an object of its own (`identities`, on the store's
    connections) and answers `Identities` through it."""

    identities: Identities

    async def remember(self, sightings: Sequence[Sighting]) -> int:
        return await self.identities.remember(sightings)

    async def link(self, links: Sequence[Link]) -> int:
        return await self.identities.link(links)

    async def recall(self, ledger: str, key: str, now: int) -> KnownIdentity | None:
        return await self.identities.recall(ledger, key, now)

    async def holdings(self, ledger: str, ref: str, now: int) -> Holdings:
        return await self.identities.holdings(ledger, ref, now)

    async def forget_expired(self, now: int) -> int:
        return await self.identities.forget_expired(now)
