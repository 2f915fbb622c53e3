"""What `bridge check` warns about in mapping files that load: a running service would wait for
something, or silently do less than the files seem to say. Each warning names file and line."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from bridge.destinations import VENDORS
from bridge.mapping.errors import did_you_mean
from bridge.mapping.yamlfile import Location, YamlDocument
from bridge.sources import Source
from bridge.sources.event_types import closest_event_type, known_event_types

if TYPE_CHECKING:
    from bridge.destinations import Destination
    from bridge.mapping.rules import Rule


def unused(
    sources: Mapping[str, Source], destinations: Mapping[str, Destination], rules: Sequence[Rule]
) -> Iterable[str]:
    used_sources = {rule.source for rule in rules}
    used_destinations = {d for rule in rules for d in rule.destinations}
    for name in sources:
        if name not in used_sources:
            yield f"source {name!r} has no rules: its events are stored as ignored"
    for name in destinations:
        if name not in used_destinations:
            yield f"destination {name!r} is not used by any rule"


def missing_secret_notes(
    component: Source | Destination,
    document: YamlDocument,
    location: Location,
    options: dict[str, Any],
    environ: Mapping[str, str],
) -> list[str]:
    """A warning per unset secret, at the line that names it."""
    if isinstance(component, Source):
        what = "source"
        wait = "webhooks to it are answered 503" if not component.ready else "it is skipped"
    else:
        what, wait = "destination", "deliveries to it wait"
    notes = []
    for var in component.missing_secrets():
        written = _written_at(options, location, f"${{{var}}}") or location
        notes.append(
            f"{what} {component.name!r} ({document.path}:{document.line_of(written)}):"
            f" environment variable {var} is not set{did_you_mean(var, environ)};"
            f" {wait} until it is"
        )
    return notes


def unknown_event_type_notes(
    source: Source,
    rule: str,
    events: Sequence[str],
    document: YamlDocument,
    location: Location,
) -> list[str]:
    """A rule listening for an event type its sender never sends (`checkout.session.complete`)."""
    known = known_event_types(source.kind)
    if known is None:
        return []
    notes = []
    for index, event_type in enumerate(events):
        if event_type in known:
            continue
        line = document.line_of((*location, "events", index))
        close = closest_event_type(source.kind, event_type)
        notes.append(
            f"rule {rule!r} ({document.path}:{line}): {source.kind} never sends"
            f" event type {event_type!r}" + (f" (did you mean {close!r}?)" if close else "")
        )
    return notes


def unsigned_choice_notes(
    source: Source,
    rule: str,
    *,
    checks_body: bool,
    maps_transaction: bool,
    document: YamlDocument,
    location: Location,
) -> list[str]:
    """Where an unsigned header alone decides what a rule records: whoever holds one genuine
    delivery can send it again with another value there."""
    where = f"rule {rule!r} ({document.path}:{document.line_of(location)})"
    notes = []
    header = source.event_type_header
    if header is not None and not checks_body:
        notes.append(
            f"{where}: source {source.name!r} takes the event type from the unsigned"
            f" {header} header, so a captured delivery can be sent again as another type;"
            " add a `when` that checks a field of the signed body"
        )
    header = source.event_id_header
    if header is not None and not maps_transaction:
        notes.append(
            f"{where}: the event id of source {source.name!r} depends on the unsigned"
            f" {header} header, so a captured delivery sent again with another one is a new"
            " event; map transaction_id from a field of the signed body so it counts once"
        )
    return notes


def unread_field_notes(
    rule: str,
    mapped: Iterable[str],
    destinations: Sequence[Destination],
    document: YamlDocument,
    location: Location,
) -> list[str]:
    """A vendor's own field (`label`, `segments`) mapped in a rule whose destinations do not
    read it: the conversion keeps it, and no request carries it."""
    read = {declared.name for d in destinations for declared in d.extra_fields}
    vendors = ", ".join(sorted({d.vendor for d in destinations}))
    notes = []
    for name in mapped:
        readers = _readers(name)
        if readers and name not in read:
            line = document.line_of((*location, "conversion", name))
            notes.append(
                f"rule {rule!r} ({document.path}:{line}): {name} is read by {readers};"
                f" no destination of this rule ({vendors}) reads it, so it is sent nowhere"
            )
    return notes


def _readers(name: str) -> str:
    """The vendors that read vendor field `name`; empty for a core field."""
    kinds = [v for v, kind in VENDORS.items() if any(f.name == name for f in kind.extra_fields)]
    return " and ".join(kinds)


def _written_at(data: Any, location: Location, text: str) -> Location | None:
    """Where under `location` (holding `data`) a string containing `text` is written."""
    if isinstance(data, str):
        return location if text in data else None
    if isinstance(data, dict):
        items: Iterable[tuple[str | int, Any]] = data.items()
    elif isinstance(data, list):
        items = enumerate(data)
    else:
        return None
    for key, value in items:
        found = _written_at(value, (*location, key), text)
        if found is not None:
            return found
    return None
