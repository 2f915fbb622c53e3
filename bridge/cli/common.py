"""What the commands share: loading mappings with readable errors, a store session, output."""

from __future__ import annotations

import argparse
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeAlias, get_args

import orjson

from bridge.mapping.config import load_config
from bridge.mapping.errors import MappingError
from bridge.mapping.loaded import Config
from bridge.runtime.settings import Settings
from bridge.sources import Source
from bridge.store import Store, StoreUnavailable, open_store
from bridge.store.base import EventFilter, EventOutcome
from bridge.utilities.times import parse_moment

if TYPE_CHECKING:
    Commands: TypeAlias = argparse._SubParsersAction[argparse.ArgumentParser]


def load_or_report(directory: Path) -> Config | None:
    """The mapping files, or None after printing every problem with file, line and field."""
    try:
        return load_config(directory)
    except MappingError as exc:
        for issue in exc.issues:
            print(f"error: {issue}", file=sys.stderr)
        if any(issue.line for issue in exc.issues):
            print(f"{len(exc.issues)} problem(s) in {directory.absolute()}", file=sys.stderr)
        return None


def named_source(config: Config, name: str) -> Source | None:
    """The source the command line names, or None after an `error:` line listing the known."""
    source = config.sources.get(name)
    if source is None:
        fail(f"unknown source {name!r} (known: {', '.join(sorted(config.sources))})")
    return source


def waiting_destinations(directory: Path) -> dict[str, str]:
    """Destination name -> what its deliveries wait for ("PAGENT_API_KEY is not set"), as the
    mapping files read with this process's environment tell; empty when they cannot be loaded,
    so a listing never depends on them."""
    try:
        config = load_config(directory)
    except MappingError:
        return {}
    return {
        name: f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not set"
        for name, destination in config.destinations.items()
        if (missing := destination.missing_secrets())
    }


class UnreadableInput(Exception):
    """A file named on the command line that cannot be read; the message says which and why."""


def read_input(name: str) -> bytes:
    """The bytes of a file named on the command line, or of stdin for `-`."""
    if name == "-":
        return sys.stdin.buffer.read()
    path = Path(name).absolute()
    try:
        return path.read_bytes()
    except OSError as exc:
        raise UnreadableInput(f"cannot read {path}: {exc.strerror or exc}") from None


@asynccontextmanager
async def store_session(settings: Settings, *, existing: bool = False) -> AsyncIterator[Store]:
    """The store, opened for one command. With `existing`, a SQLite store that is not there is
    `StoreUnavailable` instead of a new empty file: a command that only reads or changes what is
    stored, run in another directory, would otherwise answer "nothing here"."""
    if existing:
        _require_store(settings.database_url)
    store = await open_store(
        settings.database_url, busy_timeout_ms=settings.sqlite_busy_timeout_ms, pool_size=2
    )
    try:
        yield store
    finally:
        await store.close()


def _require_store(url: str) -> None:
    missing = missing_store(url)
    if missing:
        raise StoreUnavailable(
            f"{missing} (BRIDGE_DATABASE_URL is {url}): run this where bridge keeps"
            " its store, or set BRIDGE_DATABASE_URL"
        )


def missing_store(url: str) -> str | None:
    """`no store at PATH` when `url` names a SQLite file that is not there (opening it would
    create an empty one); None otherwise."""
    if not url.startswith("sqlite:"):
        return None
    from bridge.store.sqlite import sqlite_path

    path = sqlite_path(url).absolute()
    return None if path.exists() else f"no store at {path}"


def clipped(text: str, width: int = 200) -> str:
    """`text` cut to `width` characters, the cut marked with an ellipsis."""
    return text if len(text) <= width else text[: width - 1] + "…"


def print_json(document: Any) -> None:
    sys.stdout.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")


def fail(message: str, status: int = 1) -> int:
    print(f"error: {message}", file=sys.stderr)
    return status


def add_mappings_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mappings", type=Path, help="mappings directory (BRIDGE_MAPPINGS_DIR)")


def add_event_filters(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", help="only events from this source name")
    parser.add_argument(
        "--outcome", choices=get_args(EventOutcome), help="only events with this outcome"
    )
    parser.add_argument("--since", help="received at or after: 24h, 7d, 2026-11-21, ISO time")
    parser.add_argument("--until", help="received before: 24h, 7d, 2026-11-21, ISO time")


def event_filter(args: argparse.Namespace, now: int, event_id: str | None = None) -> EventFilter:
    """The filter the options describe; raises ValueError for a time that cannot be read."""
    return EventFilter(
        source=args.source,
        outcome=args.outcome,
        since=None if args.since is None else parse_moment(args.since, now),
        until=None if args.until is None else parse_moment(args.until, now),
        event_id=event_id,
    )
