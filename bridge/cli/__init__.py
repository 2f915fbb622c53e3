"""`bridge` command line. A thin shell: each module adds its commands and calls the use cases."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from bridge import __version__
from bridge.cli import deliveries, events, fixtures, identities, mappings, send, server
from bridge.runtime.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        settings = Settings()
    except ValidationError as exc:
        for problem in exc.errors(include_url=False):
            name = "BRIDGE_" + "_".join(str(part) for part in problem["loc"]).upper()
            print(f"error: {name}: {problem['msg']}", file=sys.stderr)
        return 2
    if getattr(args, "mappings", None) is not None:
        settings.mappings_dir = args.mappings
    try:
        status: int = args.run(args, settings)
    except OSError as exc:
        # A path from a setting that the system refuses (a store's folder that is a file, a
        # disk that is full): the path and the reason are what a person can act on.
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    return status


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="bridge", description="Verified webhooks in, vendor-neutral conversions out."
    )
    parser.add_argument("--version", action="version", version=f"bridge {__version__}")
    commands = parser.add_subparsers(title="commands")
    for module in (server, mappings, events, deliveries, identities, send, fixtures):
        module.add_commands(commands)
    return parser


if __name__ == "__main__":
    raise SystemExit(main())
