"""How the commands write what the identity ledger holds: ids a browser sent are quoted and
escaped (never a raw control character on a terminal), times are UTC moments."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from bridge.store.identity_rules import BY_REF
from bridge.utilities import safe_text
from bridge.utilities.times import format_moment

SHOWN_CHARACTERS = 200
"""The most of one id or key a line shows: a beacon's ids and a ledger's keys are at most this
long, so each is shown whole."""

NONE_KNOWN = "none known for this event's key"


def quoted(value: Any) -> str:
    """A value from a browser or a payload as a line may hold it: text quoted with its
    unprintable characters escaped (`'s_1\\x1b'`), maps (by key, as every store gives the
    same) and lists item by item."""
    if isinstance(value, str):
        return safe_text.clipped(value, SHOWN_CHARACTERS)
    if isinstance(value, Mapping):
        items = sorted(value.items())
        return "{" + ", ".join(f"{quoted(k)}: {quoted(v)}" for k, v in items) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(quoted(item) for item in value) + "]"
    return repr(value)


def found_by(via: str) -> str:
    """How a key led to a reference, in words."""
    return "the reference itself" if via == BY_REF else f"the link key {quoted(via)}"


def identity_line(traced: Mapping[str, Any]) -> str:
    """One identity a rule read, given as an event's trace holds it (`ledger`, `ref`, `via`,
    `vendors` with each `captured_at`): `ledger 'web', reference 'r3f_…' via the reference
    itself; pagent captured 2026-12-08 01:59:00Z`."""
    moments = ", ".join(
        f"{vendor} captured {format_moment(held['captured_at'])}"
        for vendor, held in traced["vendors"].items()
    )
    return (
        f"ledger {quoted(traced['ledger'])}, reference {quoted(traced['ref'])}"
        f" via {found_by(traced['via'])}; {moments}"
    )


def traced_identity_lines(rules: Sequence[Mapping[str, Any]]) -> list[str]:
    """Per rule whose trace holds an `identity` entry (rules with `identity:`), the identity it
    used, or that none was known for the event's key."""
    lines = []
    for rule in rules:
        if "identity" not in rule:
            continue
        traced = rule["identity"]
        used = NONE_KNOWN if traced is None else identity_line(traced)
        lines.append(f"    {rule['rule']}: identity: {used}")
    return lines
