"""Pieces every signature scheme needs, so each sender module only states its own rules.

All comparisons are constant-time (`hmac.compare_digest`) and accept several secrets (rotation)
against several signatures (senders that sign with old and new keys at once).

Hashes are fed in pieces smaller than `GIL_HELD_CHUNK`: CPython's `hashlib` and `hmac` let go
of the GIL to hash 2,048 bytes or more at once (`hmac.digest` always), and on the event loop
that hands the core to the store's writer thread in the middle of its group commit, which then
commits in many small groups instead of one large one. Measured with 4.3 KB Stripe events on
one core: 2,650 to 2,710 requests per second hashing each body in one piece, 3,310 to 3,540 in
pieces (docs/benchmarks.md). A webhook's hash takes microseconds; nothing else needs the core.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Iterable
from typing import Any, Literal

import orjson

from bridge.sources.base import MalformedPayload, VerificationFailed
from bridge.utilities.nesting import TOO_DEEP, json_too_deep
from bridge.utilities.numbers import ascii_int

Algorithm = Literal["sha1", "sha256", "sha512"]
Encoding = Literal["hex", "base64"]


GIL_HELD_CHUNK = 2047
"""The largest piece `hashlib` hashes without letting go of the GIL (its threshold is 2,048)."""


def digest(algorithm: Algorithm, key: bytes, message: bytes) -> bytes:
    """HMAC of `message`, computed without letting go of the GIL (see the module docstring)."""
    mac = hmac.new(key, digestmod=algorithm)
    _feed(mac, message)
    return mac.digest()


def sha256(data: bytes) -> bytes:
    """SHA-256 of `data`, computed without letting go of the GIL."""
    hashed = hashlib.sha256()
    _feed(hashed, data)
    return hashed.digest()


def _feed(hashed: hmac.HMAC | hashlib._Hash, data: bytes) -> None:
    if len(data) <= GIL_HELD_CHUNK:
        hashed.update(data)
        return
    view = memoryview(data)
    for start in range(0, len(view), GIL_HELD_CHUNK):
        hashed.update(view[start : start + GIL_HELD_CHUNK])


def encoded(raw: bytes, encoding: Encoding) -> str:
    return raw.hex() if encoding == "hex" else base64.b64encode(raw).decode()


def decode_signature(text: str, encoding: Encoding) -> bytes | None:
    """A signature as bytes, or None when it is not valid hex/base64 (it then matches nothing)."""
    try:
        if encoding == "hex":
            return bytes.fromhex(text.strip())
        return base64.b64decode(text.strip(), validate=True)
    except (ValueError, binascii.Error):
        return None


def any_match(expected: Iterable[bytes], provided: Iterable[bytes | None]) -> bool:
    """True when some provided signature equals some expected one (all pairs compared)."""
    wanted = list(expected)
    found = False
    for signature in provided:
        if signature is None:
            continue
        for candidate in wanted:
            found |= hmac.compare_digest(candidate, signature)
    return found


def equal_text(expected: str, provided: str) -> bool:
    return hmac.compare_digest(expected.encode(), provided.encode())


def check_window(timestamp: float, tolerance: float, *, now: float | None = None) -> None:
    """Refuse a signed timestamp more than `tolerance` seconds in the past or in the future."""
    current = time.time() if now is None else now
    if timestamp < current - tolerance:
        raise VerificationFailed(f"timestamp too old (more than {tolerance:g}s)")
    if timestamp > current + tolerance:
        raise VerificationFailed(f"timestamp too far in the future (more than {tolerance:g}s)")


def body_digest(raw: bytes) -> str:
    """Dedupe id for senders that give none: identical bodies are the same delivery."""
    return "sha256:" + sha256(raw).hex()


def json_body(raw: bytes) -> Any:
    """The parsed body, refused when it is not JSON or nests deeper than `MAX_DEPTH` levels."""
    try:
        payload = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedPayload(f"body is not valid JSON: {exc}") from None
    if json_too_deep(raw, payload):
        raise MalformedPayload(f"body is {TOO_DEEP}")
    return payload


def json_object(raw: bytes, sender: str) -> dict[str, Any]:
    payload = json_body(raw)
    if not isinstance(payload, dict):
        raise MalformedPayload(f"a {sender} webhook body is a JSON object")
    return payload


def required_text(value: Any, problem: str) -> str:
    """`value` when it is non-empty text, else the body is refused with `problem`."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(problem)
    return value


def required_id(value: Any, problem: str) -> str:
    """`value` as text when it is non-empty text or an integer (not a bool), else refused."""
    if isinstance(value, bool) or not isinstance(value, str | int) or value == "":
        raise MalformedPayload(problem)
    return str(value)


def value_at(payload: Any, path: str | None) -> Any:
    """The value at a dotted path (`meta.custom_data.id`, `items.0.id`), or None."""
    if path is None:
        return None
    current = payload
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and (index := ascii_int(part)) is not None:
            current = current[index] if index < len(current) else None
        else:
            return None
    return current
