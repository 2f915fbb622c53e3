"""`bridge send SOURCE FILE`: post a payload file to a running bridge, signed as its sender signs.

The signature comes from the source's own `sign` (bridge/sources), with the secret its mapping
file names, read from this process's environment as `bridge serve` reads it; so a test event
needs no hand-made openssl signature. Nothing the command prints holds a secret: a query that
carries one (Salesforce's token) is never shown.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import TYPE_CHECKING
from urllib.parse import urlencode

import httpx

from bridge.cli.common import (
    UnreadableInput,
    add_mappings_option,
    fail,
    load_or_report,
    named_source,
    read_input,
)
from bridge.runtime.settings import Settings
from bridge.sources import SourceError

if TYPE_CHECKING:
    from bridge.cli.common import Commands

TIMEOUT_SECONDS = 30.0
_ERRNO = re.compile(r"^\[Errno -?\d+\] ")
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


def add_commands(commands: Commands) -> None:
    send = commands.add_parser(
        "send", help="sign a payload file as its sender would and post it to a running bridge"
    )
    send.add_argument("source", help="source name from the mapping files")
    send.add_argument("payload", help="file with the webhook body, or - for stdin")
    send.add_argument(
        "--url",
        help="where to post (default: http://BRIDGE_HOST:BRIDGE_PORT/webhooks/SOURCE)",
    )
    send.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="an extra request header (repeatable), such as an event type a source reads there",
    )
    add_mappings_option(send)
    send.set_defaults(run=_send)


def default_url(settings: Settings, source: str) -> str:
    """The webhook URL of a bridge started with these settings on this machine."""
    host = _ANY_ADDRESS.get(settings.host, settings.host)
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{settings.port}/webhooks/{source}"


def extra_headers(given: list[str]) -> dict[str, str] | None:
    """`NAME: VALUE` options as headers; None when one has no colon or no name."""
    headers: dict[str, str] = {}
    for item in given:
        name, colon, value = item.partition(":")
        if not colon or not name.strip():
            return None
        headers[name.strip()] = value.strip()
    return headers


def _send(args: argparse.Namespace, settings: Settings) -> int:
    try:
        body = read_input(args.payload)
    except UnreadableInput as exc:
        return fail(str(exc))
    extra = extra_headers(args.header)
    if extra is None:
        return fail("--header takes 'NAME: VALUE'")
    config = load_or_report(settings.mappings_dir)
    source = None if config is None else named_source(config, args.source)
    if source is None:
        return 1
    url = args.url or default_url(settings, args.source)
    try:
        signed = source.sign(body, url, time.time())
    except SourceError as exc:
        return fail(f"cannot sign for source {args.source!r}: {exc}")
    headers = {"Content-Type": "application/json", **signed.headers, **extra}
    target = url + ("&" if "?" in url else "?") + urlencode(signed.query) if signed.query else url
    try:
        answer = httpx.post(target, content=body, headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.ConnectError as exc:
        reason = _ERRNO.sub("", str(exc)).lower() or "connection failed"
        return fail(f"cannot connect to {url}: {reason} (is `bridge serve` running?)")
    except httpx.HTTPError as exc:
        return fail(f"no answer from {url}: {type(exc).__name__}")
    print(f"POST {url}")
    print(f"{answer.status_code} {answer.reason_phrase}")
    print(answer.text)
    return 0 if answer.is_success else 1
