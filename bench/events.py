"""Distinct, correctly signed Stripe events for the load generators.

Every body is the shipped `checkout.session.completed` sample with its own event id, its own
PaymentIntent (the conversion's identity, so no two events are one purchase) and its own pagent
session id (which the loopback vendor sees, so a delivery can be matched to its webhook). Each
is signed the way Stripe signs: HMAC-SHA256 of `"{t}.{body}"` keyed by the whole `whsec_...`
secret, sent as `Stripe-Signature: t=...,v1=...`.

The event and PaymentIntent ids come in no order by default (a keyed hash of the count), as most
senders' ids do (Shopify's are random UUIDs); `ids="sequential"` counts them up instead, so each
lands at the end of the store's unique indexes (docs/benchmarks.md, "The levers").
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import orjson

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "mappings" / "samples" / "stripe" / "checkout.session.completed.json"
SECRET = "whsec_bench_0a1b2c3d4e5f60718293a4b5c6d7e8f9"  # noqa: S105 (a test secret)
PATH = "/webhooks/stripe"
Ids = Literal["sequential", "random"]


@dataclass(frozen=True, slots=True)
class SignedEvent:
    session_id: str
    """The pagent session id it carries: what the vendor reports on arrival."""
    signature: str
    body: bytes


def session_id(prefix: str, index: int) -> str:
    return f"s_{prefix}_{index:08d}"


def signed_events(
    prefix: str, count: int, *, start: int = 0, ids: Ids = "random"
) -> Iterator[SignedEvent]:
    """`count` events named by `prefix`, signed now (fresh for the 300 s tolerance)."""
    payload: dict[str, Any] = orjson.loads(SAMPLE.read_bytes())
    obj = payload["data"]["object"]
    now = int(time.time())
    payload["created"] = now
    key = SECRET.encode()
    stamp = f"{now}.".encode()
    for index in range(start, start + count):
        key_part = id_part(prefix, index, ids)
        payload["id"] = f"evt_{key_part}"
        obj["payment_intent"] = f"pi_{key_part}"
        obj["metadata"]["pagent_session_id"] = session_id(prefix, index)
        body = orjson.dumps(payload)
        digest = hmac.new(key, stamp + body, hashlib.sha256).hexdigest()
        yield SignedEvent(session_id(prefix, index), f"t={now},v1={digest}", body)


def id_part(prefix: str, index: int, ids: Ids) -> str:
    """The event and PaymentIntent ids' distinct part for each (prefix, index): a hash in no
    order, or the count itself."""
    if ids == "random":
        return hashlib.blake2b(f"{prefix}:{index}".encode(), digest_size=12).hexdigest()
    return f"{prefix}_{index:08d}"


def write_pool(path: Path, prefix: str, count: int, ids: Ids = "random") -> Path:
    """The wrk script's input: one `signature<TAB>body` line per event (bodies hold no newline)."""
    with path.open("wb") as out:
        for event in signed_events(prefix, count, ids=ids):
            out.write(event.signature.encode() + b"\t" + event.body + b"\n")
    return path


def http_request(event: SignedEvent, host: str, port: int) -> bytes:
    """The raw HTTP/1.1 request for `event`, for the Python load generator."""
    head = (
        f"POST {PATH} HTTP/1.1\r\n"
        f"Host: {host}:{port}\r\n"
        "Content-Type: application/json\r\n"
        f"Stripe-Signature: {event.signature}\r\n"
        f"Content-Length: {len(event.body)}\r\n\r\n"
    )
    return head.encode() + event.body
