"""What a rule with `identity:` does beyond reading the ledger: wait for an identity the ledger
does not know yet, and tie the keys its `link:` names to the identity it used.

A webhook can arrive before its beacon (a slow or lost one): a rule that found nothing for the
key the payload carries makes the event `waiting_identity` until the ledger's `wait_minutes`
have passed, and only then `unmapped`, with that reason. A webhook without any key waits for
nothing: no beacon can ever name it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from bridge.mapping.loaded import Config
from bridge.mapping.rules import Rule
from bridge.store.identities import KnownIdentity, Link
from bridge.utilities.safe_text import clipped
from bridge.utilities.times import format_moment
from bridge.vocabulary.model import Event, RuleResult


class Joins:
    """The identity rules of one mapping configuration, by name."""

    def __init__(self, config: Config) -> None:
        self._config = config
        self._rules: dict[str, Rule] = {
            rule.name: rule for rule in config.rules.rules if rule.identity is not None
        }

    def judge(
        self,
        event: Event,
        result: RuleResult,
        identities: Mapping[str, KnownIdentity | None],
        arrived_at: int,
        now: int,
    ) -> tuple[RuleResult, str | None]:
        """The result, and why the event waits for this rule's identity (None: it does not).
        Past the wait, the unmapped result says which identity never came."""
        rule = self._rules.get(result.rule)
        if rule is None or rule.identity is None or result.status != "unmapped":
            return result, None
        if identities.get(rule.name) is not None:
            return result, None
        key = rule.identity_key(event)
        if key is None:
            return result, None
        name = rule.identity.ledger
        ledger = self._config.ledgers[name]
        shown = clipped(key)
        deadline = arrived_at + ledger.wait_ms
        if now < deadline:
            why = (
                f"rule {rule.name!r}: waiting until {format_moment(deadline)} for the identity"
                f" of key {shown} in ledger {name!r}"
            )
            return result, why
        never = (
            f"no identity for key {shown} reached ledger {name!r}"
            f" within {ledger.wait_minutes:g} minutes"
        )
        reason = (result.reason or "").removeprefix(f"rule {rule.name!r}: ")
        return dataclasses.replace(result, reason=f"rule {rule.name!r}: {never}; {reason}"), None

    def links(
        self,
        event: Event,
        results: Sequence[RuleResult],
        identities: Mapping[str, KnownIdentity | None],
        now: int,
    ) -> tuple[Link, ...]:
        """The keys each converted rule's `link:` ties to the identity it used."""
        links: list[Link] = []
        for result in results:
            rule = self._rules.get(result.rule)
            identity = identities.get(result.rule)
            if rule is None or rule.identity is None or identity is None:
                continue
            if result.status != "converted":
                continue
            key = rule.identity.link_of(event.payload)
            if key is None or key == identity.ref:
                continue
            expires_at = now + self._config.ledgers[identity.ledger].ttl_ms
            links.append(Link(identity.ledger, key, identity.ref, now, expires_at))
        return tuple(links)


def joined_rules(
    results: Sequence[RuleResult], identities: Mapping[str, KnownIdentity | None]
) -> list[dict[str, Any]]:
    """The trace of each rule, with the identity a rule with `identity:` read: its reference,
    the key that led there, and when the browser captured each vendor's ids (None: nothing
    known for the event's key)."""
    rules: list[dict[str, Any]] = []
    for result in results:
        rule: dict[str, Any] = {"rule": result.rule, "status": result.status}
        rule["reason"] = result.reason
        if result.rule in identities:
            rule["identity"] = _identity_trace(identities[result.rule])
        rules.append(rule)
    return rules


def _identity_trace(identity: KnownIdentity | None) -> dict[str, Any] | None:
    if identity is None:
        return None
    captured = {
        vendor: {"captured_at": ids.captured_at} for vendor, ids in identity.vendors.items()
    }
    return {
        "ledger": identity.ledger,
        "ref": identity.ref,
        "via": identity.via,
        "vendors": captured,
    }
