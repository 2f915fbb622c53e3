"""Rules: which events become which conversions, for which destinations.

A rule applies to one source and, optionally, a list of event types; its `when` filter decides
whether it matches; its entries build the conversion. A matching rule either converts or is
`unmapped` with every missing or invalid field named, so the user can fix the mapping and replay.
A destination may take a value changed instead of refusing it (`Adjusted`: Convert leaves out a
segment it does not know): the conversion carries the changed value, and the rule's result the
warning.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bridge.destinations.base import Adjusted
from bridge.mapping.entries import Entries, compile_entries
from bridge.mapping.expressions import EvaluationError, Expression
from bridge.mapping.identity import IdentitySpec, captured_times, with_identity
from bridge.store.identities import KnownIdentity
from bridge.utilities.times import utc_now
from bridge.vocabulary.model import CONVERSION_FIELDS, Conversion, Event, Provenance, RuleResult


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    source: str
    events: frozenset[str]
    when: Expression | None
    destinations: tuple[str, ...]
    entries: dict[str, Expression]
    required: frozenset[str]
    """Union of the destinations' required fields."""
    file: str
    line: int | None
    version: str
    field_checks: Mapping[str, Callable[[str, Any], str | Adjusted | None]] = field(
        default_factory=dict
    )
    """Per destination that checks values: why it cannot take one, or what it takes instead
    (`Destination.validate_field`)."""
    identity: IdentitySpec | None = None
    """`identity:`: the ledger whose ids the entries read as `identity.<vendor>.<field>`."""
    unmapped_required: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """Required fields no entry maps (the loader refuses such rules; built ones may have them)."""
    _entries: Entries = field(init=False, repr=False, compare=False)
    """The entries and their fields' coercions as one function (`entries.py`)."""
    _vendor_fields: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The entries that are a vendor's own fields: the conversion's `vendor_fields`."""

    def __post_init__(self) -> None:
        missing = tuple(sorted(self.required - self.entries.keys()))
        object.__setattr__(self, "unmapped_required", missing)
        object.__setattr__(self, "_entries", compile_entries(self.entries, self.required))
        vendor_fields = tuple(name for name in self.entries if name not in CONVERSION_FIELDS)
        object.__setattr__(self, "_vendor_fields", vendor_fields)

    def applies_to(self, event: Event) -> bool:
        return event.source == self.source and (not self.events or event.type in self.events)

    def identity_key(self, event: Event) -> str | None:
        """The ledger key this event names its visitor by; None without `identity:` or a key."""
        return None if self.identity is None else self.identity.key_of(event.payload)

    def evaluate(self, event: Event, identity: KnownIdentity | None = None) -> RuleResult:
        """`identity`: what the ledger knows for `identity_key(event)`, read by a rule with
        `identity:` (a rule without it reads the payload alone)."""
        payload = event.payload
        if self.identity is not None:
            payload = with_identity(payload, identity)
        if self.when is not None:
            try:
                matched = is_truthy(self.when.search(payload))
            except EvaluationError as exc:
                return self._unmapped(f"when `{self.when.text}` failed: {exc}")
            if not matched:
                return RuleResult(self.name, "skipped", f"when `{self.when.text}` is false")
        values, problems = self._entries(payload)
        if self.unmapped_required:
            problems.extend(
                f"{name} is required by a destination but not mapped"
                for name in self.unmapped_required
            )
        if problems:
            return self._unmapped("; ".join(problems))
        accepting, notes = self._accepting_destinations(values)
        if not accepting:
            return self._unmapped("; ".join(notes))
        values.setdefault("occurred_at", event.occurred_at or utc_now())
        if identity is not None and self.identity is not None:
            values["ids_captured_at"] = captured_times(identity)
        if self._vendor_fields:
            found = {name: values.pop(name) for name in self._vendor_fields if name in values}
            values["vendor_fields"] = found or None
        provenance = Provenance(event.source, event.event_id, self.name, self.file, self.version)
        return RuleResult(
            self.name,
            "converted",
            f"rule {self.name!r}: " + "; ".join(notes) if notes else None,
            conversion=Conversion(provenance=provenance, **values),
            destinations=accepting,
        )

    def _accepting_destinations(self, values: dict[str, Any]) -> tuple[tuple[str, ...], list[str]]:
        """Destinations that can take these values, and why the others cannot or what they
        take changed (`values` then holds the changed value: a field left out is removed)."""
        if not self.field_checks:
            return self.destinations, []
        accepting: list[str] = []
        notes: list[str] = []
        changed: dict[str, Any] = {}
        for destination in self.destinations:
            check = self.field_checks.get(destination)
            if check is None:
                accepting.append(destination)
                continue
            refused: list[str] = []
            adjusted: dict[str, Adjusted] = {}
            for name, value in values.items():
                problem = check(name, value)
                if isinstance(problem, Adjusted):
                    adjusted[name] = problem
                elif problem:
                    refused.append(f"{name}: {problem}")
            if refused:
                notes.append(f"destination {destination!r} refuses it: {'; '.join(refused)}")
                continue
            accepting.append(destination)
            if adjusted:
                changed.update((name, found.value) for name, found in adjusted.items())
                taken = "; ".join(f"{name}: {found.warning}" for name, found in adjusted.items())
                notes.append(f"destination {destination!r} takes it changed: {taken}")
        for name, value in changed.items():
            if value is None:
                del values[name]
            else:
                values[name] = value
        return tuple(accepting), notes

    def _unmapped(self, reason: str) -> RuleResult:
        return RuleResult(self.name, "unmapped", f"rule {self.name!r}: {reason}")


class RuleSet:
    """All rules, indexed by source so an event only meets the rules that can apply to it."""

    def __init__(self, rules: Iterable[Rule]) -> None:
        self.rules = list(rules)
        self._by_source: dict[str, list[Rule]] = defaultdict(list)
        for rule in self.rules:
            self._by_source[rule.source].append(rule)
        self.joined_sources = frozenset(r.source for r in self.rules if r.identity is not None)
        """Sources with a rule that reads an identity ledger: only their events need a lookup."""

    def evaluate(
        self, event: Event, identities: Mapping[str, KnownIdentity | None] | None = None
    ) -> list[RuleResult]:
        """A result for every rule that applies to the event's source and type; `identities`:
        per rule name, what the ledger knows for that rule's key (`joining`)."""
        if identities is None:
            return [
                rule.evaluate(event)
                for rule in self._by_source.get(event.source, ())
                if rule.applies_to(event)
            ]
        return [
            rule.evaluate(event, identities.get(rule.name))
            for rule in self._by_source.get(event.source, ())
            if rule.applies_to(event)
        ]

    def joining(self, event: Event) -> list[Rule]:
        """The rules with `identity:` that apply to the event: whose keys to look up."""
        return [
            rule
            for rule in self._by_source.get(event.source, ())
            if rule.identity is not None and rule.applies_to(event)
        ]


def is_truthy(value: Any) -> bool:
    """JMESPath truthiness: false, null, "", [] and {} are false; everything else is true."""
    return not (value is None or value is False or value == "" or value == [] or value == {})
