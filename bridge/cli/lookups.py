"""What `bridge try` shows of a rule with `identity:`: the key the payload names and what the
ledger knows for it, read from the store when there is one (a trial never makes a store)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bridge.cli.common import missing_store, store_session
from bridge.cli.identity_text import identity_line, quoted
from bridge.mapping.loaded import Config
from bridge.runtime.settings import Settings
from bridge.store import StoreUnavailable
from bridge.store.identities import Identities, KnownIdentity
from bridge.vocabulary.model import Event


@dataclass(frozen=True, slots=True)
class Lookup:
    """One rule's lookup for one event."""

    ledger: str
    expression: str
    """The rule's `key:` as written."""
    key: str | None
    """The key the payload names; None when it names none."""
    known: KnownIdentity | None
    skipped: str | None
    """Why the ledger was not read (`no store at PATH`); None when it was, or with no key."""


Lookups = dict[str, Lookup]
"""Per rule with `identity:` that applies to an event, by rule name."""


async def look_up_all(
    settings: Settings, config: Config, events: Sequence[Event], now: int
) -> list[Lookups]:
    """Per event, the lookups its rules with `identity:` make: in the store at
    `BRIDGE_DATABASE_URL` when it is there, otherwise none (each says why)."""
    if not any(config.rules.joining(event) for event in events):
        return [{} for _ in events]
    skipped = missing_store(settings.database_url)
    if skipped is None:
        try:
            async with store_session(settings, existing=True) as store:
                return [await _look_up(config, event, now, store) for event in events]
        except StoreUnavailable as exc:
            skipped = f"store unavailable: {exc}"
    return [await _look_up(config, event, now, None, skipped) for event in events]


async def _look_up(
    config: Config,
    event: Event,
    now: int,
    identities: Identities | None,
    skipped: str | None = None,
) -> Lookups:
    lookups: Lookups = {}
    for rule in config.rules.joining(event):
        spec = rule.identity
        if spec is None:  # joining() yields rules with identity: only
            continue
        key = spec.key_of(event.payload)
        known = None
        if key is not None and identities is not None:
            known = await identities.recall(spec.ledger, key, now)
        reason = skipped if key is not None else None
        lookups[rule.name] = Lookup(spec.ledger, spec.key.text, key, known, reason)
    return lookups


def known_by_rule(lookups: Lookups) -> dict[str, KnownIdentity | None]:
    """What each rule converts with: `RuleSet.evaluate`'s `identities`."""
    return {name: lookup.known for name, lookup in lookups.items()}


def lookup_document(lookup: Lookup, config: Config) -> dict[str, Any]:
    known = lookup.known
    return {
        "ledger": lookup.ledger,
        "key_from": lookup.expression,
        "key": lookup.key,
        "skipped": lookup.skipped,
        "wait_minutes": config.ledgers[lookup.ledger].wait_minutes,
        "known": None
        if known is None
        else {
            "ledger": known.ledger,
            "ref": known.ref,
            "via": known.via,
            "vendors": {
                vendor: {"ids": held.ids, "captured_at": held.captured_at}
                for vendor, held in known.vendors.items()
            },
        },
    }


def lookup_lines(document: Mapping[str, Any]) -> list[str]:
    """The lookup of `lookup_document` in words."""
    ledger = quoted(document["ledger"])
    key_from = f"`{document['key_from']}`"
    if document["key"] is None:
        return [f"  identity: the payload names no key ({key_from}): evaluated with no identity"]
    lines = [f"  identity: key {quoted(document['key'])} ({key_from}) in ledger {ledger}"]
    known = document["known"]
    if document["skipped"]:
        lines.append(f"  lookup skipped ({document['skipped']}): evaluated with no identity")
    elif known is None:
        wait = document["wait_minutes"]
        waits = f": a webhook with it waits up to {wait} minutes for its beacon" if wait else ""
        lines.append(f"  known: nothing for this key{waits}; evaluated with no identity")
    else:
        lines.append(f"  known: {identity_line(known)}")
    return lines
