"""`identities show`: what the identity ledger knows for a visitor's reference or a key linked
to it, as a webhook carrying that key would find it now (nothing expired)."""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bridge.cli.common import (
    add_mappings_option,
    fail,
    load_or_report,
    print_json,
    store_session,
)
from bridge.cli.identity_text import found_by, quoted
from bridge.identity.config import LedgerConfig
from bridge.mapping.identity import email_key
from bridge.runtime.settings import Settings
from bridge.store import StoreUnavailable
from bridge.store.identities import Holdings, Identities, KnownIdentity
from bridge.utilities.times import format_moment

if TYPE_CHECKING:
    from bridge.cli.common import Commands


@dataclass(frozen=True, slots=True)
class Found:
    """What one ledger knows for the key asked about: the reference it names and how
    (`identity`), and all the ledger keeps for that reference (`held`)."""

    identity: KnownIdentity
    held: Holdings


def add_commands(commands: Commands) -> None:
    identities = commands.add_parser("identities", help="what the identity ledgers know")
    actions = identities.add_subparsers(title="actions")
    show = actions.add_parser(
        "show", help="the ids, times and linked keys a ledger keeps for a reference or a key"
    )
    show.add_argument(
        "key",
        metavar="REF|KEY",
        help="a visitor's reference (client_reference_id) or a key linked to it (cus_...)",
    )
    show.add_argument("--ledger", help="only this ledger (default: every ledger in the mappings)")
    add_mappings_option(show)
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(run=_show)


def _show(args: argparse.Namespace, settings: Settings) -> int:
    config = load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    ledgers = [args.ledger] if args.ledger is not None else list(config.ledgers)
    if not ledgers:
        where = settings.mappings_dir.absolute()
        return fail(f"the mapping files in {where} name no ledger: name one with --ledger")
    keys = {ledger: _as_stored(args.key, config.ledgers.get(ledger)) for ledger in ledgers}
    try:
        found = asyncio.run(_look_up(settings, keys))
    except StoreUnavailable as exc:
        return fail(str(exc))
    if args.json:
        print_json([found_document(entry) for entry in found])
    elif found:
        print("\n\n".join("\n".join(found_lines(entry)) for entry in found))
    else:
        named = ", ".join(quoted(ledger) for ledger in ledgers)
        print(
            f"nothing known for {quoted(args.key)} in ledger{'s' if len(ledgers) > 1 else ''}"
            f" {named}"
        )
    return 0 if found else 1


def _as_stored(key: str, ledger: LedgerConfig | None) -> str:
    """The key as rules store it: an email address as its hash (`email_key`)."""
    if "@" not in key:
        return key
    return email_key(key, ledger.email_pepper if ledger is not None else None)


async def _look_up(settings: Settings, keys: Mapping[str, str]) -> list[Found]:
    """Per ledger, what it knows for its key."""
    now = int(time.time() * 1000)
    async with store_session(settings, existing=True) as store:
        return [
            found
            for ledger, key in keys.items()
            if (found := await look_up(store, ledger, key, now))
        ]


async def look_up(identities: Identities, ledger: str, key: str, now: int) -> Found | None:
    """What `ledger` knows for `key` at `now`, found as a webhook's lookup finds it (the
    reference itself first, then a link key); None when nothing is known."""
    identity = await identities.recall(ledger, key, now)
    if identity is None:
        return None
    held = await identities.holdings(ledger, identity.ref, now)
    return Found(identity, held) if held.sightings else None


def found_lines(found: Found) -> list[str]:
    identity = found.identity
    lines = [
        f"ledger {quoted(identity.ledger)}: reference {quoted(identity.ref)},"
        f" found by {found_by(identity.via)}"
    ]
    for sighting in found.held.sightings:
        lines.append(
            f"  {sighting.vendor}: captured {format_moment(sighting.captured_at)},"
            f" expires {format_moment(sighting.expires_at)}"
        )
        width = max((len(name) for name in sighting.ids), default=0)
        lines.extend(
            f"    {name:{width}}  {quoted(value)}" for name, value in sorted(sighting.ids.items())
        )
    lines.append("  linked keys" if found.held.links else "  linked keys: none")
    lines.extend(
        f"    {quoted(link.key)}: linked {format_moment(link.linked_at)},"
        f" expires {format_moment(link.expires_at)}"
        for link in found.held.links
    )
    return lines


def found_document(found: Found) -> dict[str, Any]:
    identity = found.identity
    return {
        "ledger": identity.ledger,
        "ref": identity.ref,
        "via": identity.via,
        "vendors": {
            sighting.vendor: {
                "ids": sighting.ids,
                "captured_at": sighting.captured_at,
                "expires_at": sighting.expires_at,
            }
            for sighting in found.held.sightings
        },
        "links": [
            {"key": link.key, "linked_at": link.linked_at, "expires_at": link.expires_at}
            for link in found.held.links
        ],
    }
