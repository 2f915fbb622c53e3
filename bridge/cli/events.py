"""Answering "why didn't my conversion show up?": `events list`, `events show`, `replay`."""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import asdict
from typing import TYPE_CHECKING

from bridge.cli.common import (
    add_event_filters,
    add_mappings_option,
    clipped,
    event_filter,
    fail,
    load_or_report,
    print_json,
    store_session,
    waiting_destinations,
)
from bridge.cli.identity_text import traced_identity_lines
from bridge.mapping.loaded import Config
from bridge.runtime.settings import Settings
from bridge.store import StoreUnavailable
from bridge.store.base import EventFilter, EventTrace, EventView
from bridge.use_cases.replay import Replayed, replay
from bridge.use_cases.trace import event_summary, trace_document, trace_text
from bridge.utilities.times import format_moment

if TYPE_CHECKING:
    from bridge.cli.common import Commands


def add_commands(commands: Commands) -> None:
    events = commands.add_parser("events", help="stored events and what became of them")
    actions = events.add_subparsers(title="actions")

    listing = actions.add_parser("list", help="list stored events, newest first")
    add_event_filters(listing)
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="machine-readable output")
    listing.set_defaults(run=_list)

    show = actions.add_parser(
        "show", help="one event's story: verified, rules, conversions, every delivery attempt"
    )
    show.add_argument("event_id", help="the sender's event id (as `events list` shows it)")
    show.add_argument("--source", help="source name, when two sources share an event id")
    show.add_argument("--json", action="store_true", help="machine-readable output")
    show.set_defaults(run=_show)

    again = commands.add_parser(
        "replay", help="run stored events through the current mapping files again"
    )
    again.add_argument("event_ids", nargs="*", help="sender event ids (or use the filters)")
    add_event_filters(again)
    again.add_argument("--limit", type=int, default=1000, help="at most this many events")
    again.add_argument(
        "--dry-run", action="store_true", help="show old and new outcomes; store and send nothing"
    )
    again.add_argument("--json", action="store_true", help="machine-readable output")
    add_mappings_option(again)
    again.set_defaults(run=_replay)


def _list(args: argparse.Namespace, settings: Settings) -> int:
    try:
        where = event_filter(args, _now())
    except ValueError as exc:
        return fail(str(exc), 2)

    async def query() -> list[EventView]:
        async with store_session(settings, existing=True) as store:
            return await store.list_events(where, args.limit)

    try:
        events = asyncio.run(query())
    except StoreUnavailable as exc:
        return fail(str(exc))
    if args.json:
        print_json([event_summary(event) for event in events])
        return 0
    if not events:
        print("no events")
        return 0
    print(f"{'RECEIVED':20}  {'SOURCE':12}  {'OUTCOME':9}  {'EVENT':30}  TYPE / REASON")
    for e in events:
        print(
            f"{format_moment(e.received_at):20}  {e.source:12}  {e.outcome:9}  "
            f"{e.event_id:30}  {e.type}"
        )
        if e.reason:
            print(f"{'':>78}{clipped(e.reason)}")
    return 0


def _show(args: argparse.Namespace, settings: Settings) -> int:
    async def query() -> EventTrace | str:
        async with store_session(settings, existing=True) as store:
            found = await store.list_events(EventFilter(args.source, event_id=args.event_id), 10)
            if not found:
                where = f" from source {args.source!r}" if args.source else ""
                return f"no event {args.event_id!r}{where} is stored"
            sources = sorted({event.source for event in found})
            if len(sources) > 1:
                return f"sources {', '.join(sources)} all have this event id: add --source"
            trace = await store.event_trace(sources[0], args.event_id)
            return trace if trace is not None else f"event {args.event_id!r} was just purged"

    try:
        trace = asyncio.run(query())
    except StoreUnavailable as exc:
        return fail(str(exc))
    if isinstance(trace, str):
        return fail(trace)
    if args.json:
        print_json(trace_document(trace))
    else:
        print(trace_text(trace, waiting_destinations(settings.mappings_dir)))
        used = traced_identity_lines(trace.rules)
        if used:
            print("\n".join(["  identities", *used]))
    return 0


def _replay(args: argparse.Namespace, settings: Settings) -> int:
    if not (args.event_ids or args.source or args.outcome or args.since or args.until):
        return fail("give event ids or at least one of --source, --outcome, --since, --until", 2)
    now = _now()
    try:
        filters = [event_filter(args, now, event_id) for event_id in args.event_ids] or [
            event_filter(args, now)
        ]
    except ValueError as exc:
        return fail(str(exc), 2)
    config = load_or_report(settings.mappings_dir)
    if config is None:
        return 1

    try:
        results = asyncio.run(_replay_all(settings, config, filters, args.limit, args.dry_run))
    except StoreUnavailable as exc:
        return fail(str(exc))
    if args.json:
        print_json([asdict(result) for result in results])
    else:
        _print_replayed(results, dry_run=args.dry_run)
    return 1 if any(result.after is None for result in results) else 0


async def _replay_all(
    settings: Settings, config: Config, filters: list[EventFilter], limit: int, dry_run: bool
) -> list[Replayed]:
    async with store_session(settings, existing=True) as store:
        return await replay(store, config, filters, limit=limit, dry_run=dry_run, identities=store)


def _print_replayed(results: list[Replayed], *, dry_run: bool) -> None:
    if not results:
        print("no stored events match")
        return
    print(f"{'EVENT':40}  {'BEFORE':9}     {'AFTER':9}  {'DELIVERIES':>10}  REASON")
    for r in results:
        after = r.after or "not replayed"
        print(
            f"{r.source + ':' + r.event_id:40}  {r.before:9} ->  {after:9}  "
            f"{r.new_deliveries:>10}  {r.reason or ''}".rstrip()
        )
    new = sum(r.new_deliveries for r in results)
    if dry_run:
        print(f"\ndry run: {len(results)} events, {new} deliveries planned; nothing stored or sent")
    else:
        print(f"\n{len(results)} events replayed, {new} new deliveries queued for the worker")


def _now() -> int:
    return int(time.time() * 1000)
