"""Working on mapping files: `check` validates them, `try` shows what a payload would become."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import TYPE_CHECKING, Any, TextIO

import orjson
from pydantic import BaseModel

from bridge.cli.common import (
    UnreadableInput,
    add_mappings_option,
    fail,
    load_or_report,
    named_source,
    print_json,
    read_input,
)
from bridge.cli.lookups import Lookups, known_by_rule, look_up_all, lookup_document, lookup_lines
from bridge.destinations import VendorRequest
from bridge.mapping.loaded import Config
from bridge.runtime.settings import Settings
from bridge.sources import SourceError
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import Secret

if TYPE_CHECKING:
    from bridge.cli.common import Commands


def add_commands(commands: Commands) -> None:
    check = commands.add_parser("check", help="validate the mapping files")
    add_mappings_option(check)
    check.add_argument("--strict", action="store_true", help="treat warnings as errors")
    check.set_defaults(run=_check)

    trial = commands.add_parser(
        "try", help="show what a sample payload would become; sends nothing, stores nothing"
    )
    trial.add_argument("source", help="source name from the mapping files")
    trial.add_argument("payload", help="file with the webhook body, or - for stdin")
    add_mappings_option(trial)
    trial.add_argument("--json", action="store_true", help="machine-readable output")
    trial.set_defaults(run=_try)


def _check(args: argparse.Namespace, settings: Settings) -> int:
    config = load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    warnings = config.warnings()
    for warning in warnings:
        print(f"warning: {warning}")
    for kind, components in (("source", config.sources), ("destination", config.destinations)):
        for name, component in components.items():
            for rotation in rotations(component.options):
                print(f"rotating: {kind} {name!r} accepts {rotation}; remove the old one when done")
    for line in ledger_lines(config):
        print(line)
    loaded = (
        f"{len(config.files)} files, {len(config.sources)} sources, "
        f"{len(config.destinations)} destinations, {len(config.rules.rules)} rules"
    )
    if config.ledgers:
        loaded += f", {len(config.ledgers)} ledger{'' if len(config.ledgers) == 1 else 's'}"
    counted = f"{len(warnings)} warning{'' if len(warnings) == 1 else 's'}"
    if warnings and args.strict:
        return fail(f"{counted}, and --strict treats warnings as errors ({loaded})")
    print(f"ok: {loaded}" + (f", {counted}" if warnings else ""))
    return 0


def ledger_lines(config: Config) -> list[str]:
    """One line per identity ledger: its endpoint, who may post to it, what it keeps, how long."""
    return [
        f"ledger {name!r}: POST /identify/{name} from {', '.join(ledger.origins)};"
        f" vendors {', '.join(ledger.vendors)}; kept {ledger.ttl_days} days"
        + ("; consent required" if ledger.require_consent else "")
        for name, ledger in config.ledgers.items()
    ]


def rotations(options: BaseModel) -> list[str]:
    """Each option that accepts more than one secret: a rotation in progress (a list of several
    references, or a variable holding `whsec_new,whsec_old`)."""
    found: list[str] = []
    for field in type(options).model_fields:
        value = getattr(options, field)
        items = value if isinstance(value, list) else [value]
        found.extend(
            f"{len(item.values())} secrets in {item.env_var}"
            for item in items
            if isinstance(item, Secret) and item.rotating
        )
        named = [_variables(item) for item in items]
        if len(items) > 1 and all(named):
            listed = ", ".join(" and ".join(names) for names in named)
            found.append(f"{len(items)} {'secrets' if field == 'secret' else field}: {listed}")
    return found


def _variables(item: object) -> list[str]:
    """The variables a secret, or a group of secrets (a credentials pair), names."""
    if isinstance(item, Secret):
        return [item.env_var]
    if isinstance(item, BaseModel):
        return [v.env_var for v in vars(item).values() if isinstance(v, Secret)]
    return []


def _try(args: argparse.Namespace, settings: Settings) -> int:
    config = load_or_report(settings.mappings_dir)
    if config is None:
        return 1
    source = named_source(config, args.source)
    if source is None:
        return 2
    try:
        events = source.parse(read_input(args.payload))
    except (UnreadableInput, SourceError) as exc:
        return fail(str(exc))
    lookups = asyncio.run(look_up_all(settings, config, events, int(time.time() * 1000)))
    report = [trial(config, event, lookup) for event, lookup in zip(events, lookups, strict=True)]
    if args.json:
        print_json(report)
    else:
        for entry in report:
            _print_trial(entry, sys.stdout)
    return 0


def trial(config: Config, event: Event, lookups: Lookups) -> dict[str, Any]:
    """What the rules make of `event`, those with `identity:` with what `lookups` found."""
    results = config.rules.evaluate(event, known_by_rule(lookups) if lookups else None)
    rules = []
    for result in results:
        entry: dict[str, Any] = {
            "rule": result.rule,
            "status": result.status,
            "reason": result.reason,
        }
        if result.rule in lookups:
            entry["identity"] = lookup_document(lookups[result.rule], config)
        if result.conversion is not None:
            entry["conversion"] = result.conversion.to_dict()
            entry["requests"] = [
                {"destination": name, **_shown(request)}
                for name in result.destinations
                for request in config.destinations[name].requests([result.conversion])
            ]
        rules.append(entry)
    return {"source": event.source, "event_id": event.event_id, "type": event.type, "rules": rules}


def _shown(request: VendorRequest) -> dict[str, Any]:
    return {
        "method": request.method,
        "url": request.redacted_url(),
        "headers": request.redacted_headers(),
        "body": request.body.decode(),
    }


def _print_trial(entry: dict[str, Any], out: TextIO) -> None:
    out.write(f"event {entry['event_id']} ({entry['type']}) from source {entry['source']!r}\n")
    if not entry["rules"]:
        out.write("  no rule applies to this event type: it would be stored as ignored\n")
    for rule in entry["rules"]:
        out.write(f"\nrule {rule['rule']!r}: {rule['status']}")
        out.write(f" ({rule['reason']})\n" if rule["reason"] else "\n")
        if "identity" in rule:
            out.write("\n".join(lookup_lines(rule["identity"])) + "\n")
        if "conversion" in rule:
            out.write("  conversion: " + orjson.dumps(rule["conversion"]).decode() + "\n")
        for request in rule.get("requests", ()):
            out.write(f"\n  -> destination {request['destination']!r}\n")
            out.write(f"  {request['method']} {request['url']}\n")
            for name, value in request["headers"].items():
                out.write(f"  {name}: {value}\n")
            pretty = orjson.dumps(
                orjson.loads(request["body"]), option=orjson.OPT_INDENT_2
            ).decode()
            out.write("\n" + "\n".join("  " + line for line in pretty.splitlines()) + "\n")
    out.write("\n(nothing was sent or stored)\n")
