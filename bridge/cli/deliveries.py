"""Dead letters and the queue: `deliveries list`, `retry` and `purge`."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from bridge.cli.common import (
    add_mappings_option,
    clipped,
    fail,
    load_or_report,
    print_json,
    store_session,
    waiting_destinations,
)
from bridge.runtime.settings import Settings
from bridge.store import StoreUnavailable
from bridge.store.base import DeliveryView
from bridge.use_cases.trace import waits_for
from bridge.utilities.times import format_moment

if TYPE_CHECKING:
    from bridge.cli.common import Commands


def add_commands(commands: Commands) -> None:
    deliveries = commands.add_parser("deliveries", help="inspect, retry and purge deliveries")
    actions = deliveries.add_subparsers(title="actions")

    listing = actions.add_parser("list", help="list deliveries with the vendor's last answer")
    listing.add_argument("--status", choices=["pending", "delivered", "dead"])
    listing.add_argument("--destination")
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=_list)

    retry = actions.add_parser("retry", help="make deliveries due now, with a fresh max age")
    retry.add_argument("ids", nargs="*", type=int, help="delivery ids")
    retry.add_argument("--status", choices=["pending", "dead"], help="all deliveries in this state")
    retry.add_argument("--destination")
    add_mappings_option(retry)
    retry.set_defaults(run=_retry)

    purge = actions.add_parser(
        "purge", help="forget finished deliveries for good (dead letters nobody will retry)"
    )
    purge.add_argument("ids", nargs="*", type=int, help="delivery ids")
    purge.add_argument("--status", choices=["delivered", "dead"], help="all in this state")
    purge.add_argument("--destination")
    purge.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    purge.set_defaults(run=_purge)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    async def query() -> list[DeliveryView]:
        async with store_session(settings, existing=True) as store:
            return await store.list_deliveries(
                status=args.status, destination=args.destination, limit=args.limit
            )

    try:
        views = asyncio.run(query())
    except StoreUnavailable as exc:
        return fail(str(exc))
    if args.json:
        print_json([asdict(v) for v in views])
        return 0
    if not views:
        print("no deliveries")
        return 0
    waiting = waiting_destinations(settings.mappings_dir)
    now = int(time.time() * 1000)
    print(
        f"{'ID':>6}  {'STATUS':9}  {'DESTINATION':14}  {'TRIES':>5}  {'WHEN':20}  "
        "EVENT (RULE) / LAST ANSWER"
    )
    for v in views:
        waits = (
            waits_for(waiting, v.destination, v.next_attempt_at, now)
            if v.status == "pending"
            else None
        )
        when = format_moment(v.finished_at if v.finished_at else v.next_attempt_at)
        print(
            f"{v.id:>6}  {v.status:9}  {v.destination:14}  {v.attempts:>5}  "
            f"{'waiting' if waits else when:20}  {v.source}:{v.event_id} ({v.rule})"
        )
        if waits:
            print(f"{'':>62}waiting: {waits}")
        if v.last_answer:
            print(f"{'':>62}{clipped(v.last_answer)}")
    return 0


def _retry(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and args.status is None:
        return fail("give delivery ids or --status", 2)
    config = load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    names = [args.destination] if args.destination else sorted(config.destinations)
    if args.destination and args.destination not in config.destinations:
        return fail(f"no destination {args.destination!r} in the mapping files", 2)

    async def retry() -> int:
        now = int(time.time() * 1000)
        total = 0
        async with store_session(settings, existing=True) as store:
            for name in names:
                max_age_ms = int(config.destinations[name].options.max_age_hours * 3_600_000)
                total += await store.retry_deliveries(
                    ids=args.ids or None,
                    status=args.status,
                    destination=name,
                    now=now,
                    expires_at=now + max_age_ms,
                )
        return total

    try:
        count = asyncio.run(retry())
    except StoreUnavailable as exc:
        return fail(str(exc))
    print(f"{count} deliveries are due now")
    return 0


PURGE_KEEPS = (
    "Purging erases each finished delivery's conversion, vendor answers and attempts. "
    "Pending deliveries are never purged, and each purged conversion's identity is kept as "
    "long as its event (BRIDGE_DEDUPE_RETENTION_DAYS), so neither a replay nor another "
    "event records it again."
)


def _purge(args: argparse.Namespace, settings: Settings) -> int:
    if not args.ids and args.status is None:
        return fail("give delivery ids or --status", 2)
    if not args.yes and not _confirmed(_purge_question(args)):
        return fail("nothing purged: confirm at the prompt, or pass --yes", 2)

    async def purge() -> int:
        async with store_session(settings, existing=True) as store:
            return await store.purge_deliveries(
                ids=args.ids or None, status=args.status, destination=args.destination
            )

    try:
        count = asyncio.run(purge())
    except StoreUnavailable as exc:
        return fail(str(exc))
    print(f"{count} finished deliveries purged; their conversions are still never sent twice")
    return 0


def _purge_question(args: argparse.Namespace) -> str:
    chosen = [f"ids {', '.join(map(str, args.ids))}"] if args.ids else []
    if args.status:
        chosen.append(f"status {args.status}")
    if args.destination:
        chosen.append(f"destination {args.destination}")
    return f"{PURGE_KEEPS}\nPurge finished deliveries with {' and '.join(chosen)}? [y/N] "


def _confirmed(question: str) -> bool:
    """A yes typed at a terminal; never assumed when nobody is there to answer."""
    if not sys.stdin.isatty():
        print(PURGE_KEEPS, file=sys.stderr)
        return False
    try:
        return input(question).strip().lower() in {"y", "yes"}
    except EOFError:
        return False
