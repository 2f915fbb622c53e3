"""The beacon a browser posts, read strictly: what it may hold, and why anything else is refused.

The endpoint is public, so the body is whatever anyone sends. It is parsed only after the
endpoint has capped it (8 KiB); the schema is walked from the top and nothing deeper than it
is descended into, so a deeply nested or oversized value costs one type check. A refusal is one
line naming the field; a value appears in it only in the short, harmless form `shown` and
`clipped` give (bridge/utilities/safe_text.py), never as sent.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from bridge.identity.vendors import BLOCKS
from bridge.utilities.safe_text import clipped, shown

MAX_BYTES = 8192
"""The largest body the endpoint reads (413 beyond)."""
MAX_ID_CHARACTERS = 200
MAX_MAP_ENTRIES = 50
MAX_MAP_CHARACTERS = 100

Consent = Literal["granted", "denied", "pending"]
CONSENTS: dict[object, Consent] = {"granted": "granted", "denied": "denied", "pending": "pending"}
_KEYS = frozenset(("v", "ref", "consent", "ids"))
_REF = re.compile(r"[A-Za-z0-9_-]{22,64}")


class BeaconRefused(ValueError):
    """A body that is not a beacon. The message is the one line the sender is answered; `field`
    names where, without any value from the body (`ids.pagent`), for the log."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Beacon:
    ref: str
    consent: Consent | None
    ids: dict[str, dict[str, Any]]
    """Vendor -> its block as sent (ids are strings, bucketing and segments string maps)."""


def read_beacon(body: bytes, vendors: Collection[str]) -> Beacon:
    """The beacon in `body`, whose vendors must be among `vendors` (the ledger's)."""
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise BeaconRefused("body is not JSON (UTF-8)", "body") from None
    if not isinstance(data, dict):
        raise BeaconRefused(f"body must be a JSON object, not {_kind(data)}", "body")
    unknown = data.keys() - _KEYS
    if unknown:
        allowed = "allowed: consent, ids, ref, v"
        raise BeaconRefused(f"unknown key {clipped(min(unknown))} ({allowed})", "body")
    version = data.get("v")
    if type(version) is not int or version != 1:
        raise BeaconRefused(f"v: must be 1, not {shown(version)}", "v")
    ref = data.get("ref")
    if not isinstance(ref, str) or not _REF.fullmatch(ref):
        problem = f"must be 22 to 64 characters of A-Za-z0-9_-, not {shown(ref)}"
        raise BeaconRefused(f"ref: {problem}", "ref")
    said = data.get("consent")
    consent = CONSENTS.get(said) if isinstance(said, str) else None
    if said is not None and consent is None:
        problem = f"must be granted, denied or pending, not {shown(said)}"
        raise BeaconRefused(f"consent: {problem}", "consent")
    ids = data.get("ids")
    if not isinstance(ids, dict) or not ids:
        problem = f"must be an object with at least one vendor, not {shown(ids)}"
        raise BeaconRefused(f"ids: {problem}", "ids")
    for vendor, block in ids.items():
        _check_block(vendor, block, vendors)
    return Beacon(ref, consent, ids)


def _check_block(vendor: str, block: Any, vendors: Collection[str]) -> None:
    fields = BLOCKS.get(vendor)
    if fields is None:
        known = ", ".join(BLOCKS)
        raise BeaconRefused(f"ids: unknown vendor {clipped(vendor)} (known: {known})", "ids")
    if vendor not in vendors:
        raise BeaconRefused(f"ids.{vendor}: this ledger does not take {vendor} ids", "ids")
    if not isinstance(block, dict) or not block:
        where = f"ids.{vendor}"
        raise BeaconRefused(f"{where}: must be an object with at least one id", where)
    for name, value in block.items():
        kind = fields.get(name)
        where = f"ids.{vendor}.{name}"
        if kind is None:
            allowed = ", ".join(fields)
            message = f"ids.{vendor}: unknown key {clipped(name)} (allowed: {allowed})"
            raise BeaconRefused(message, f"ids.{vendor}")
        if kind == "id":
            problem = _text_problem(value, MAX_ID_CHARACTERS)
            if problem:
                raise BeaconRefused(f"{where}: {problem}", where)
        else:
            _check_map(where, value)


def _check_map(where: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise BeaconRefused(f"{where}: must be an object of strings, not {_kind(value)}", where)
    if len(value) > MAX_MAP_ENTRIES:
        too_many = f"at most {MAX_MAP_ENTRIES} entries, not {len(value)}"
        raise BeaconRefused(f"{where}: {too_many}", where)
    for key, item in value.items():
        problem = _text_problem(key, MAX_MAP_CHARACTERS)
        if problem:
            raise BeaconRefused(f"{where}: a key {problem}", where)
        problem = _text_problem(item, MAX_MAP_CHARACTERS)
        if problem:
            raise BeaconRefused(f"{where}[{clipped(key)}]: {problem}", where)


def _text_problem(value: Any, limit: int) -> str | None:
    """Why `value` is not 1..`limit` printable characters, or None."""
    if not isinstance(value, str):
        return f"must be a string, not {_kind(value)}"
    if not 0 < len(value) <= limit:
        return f"must be 1 to {limit} characters, not {len(value)}"
    if not value.isprintable():
        return "must not hold control characters"
    return None


def _kind(value: Any) -> str:
    """What a JSON value is, without any of its content."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
