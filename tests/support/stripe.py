"""Stripe events shaped like the shipped samples, signed with Stripe's own library."""

from __future__ import annotations

import copy
import itertools
import time
from pathlib import Path
from typing import Any

import orjson
import stripe

from bridge.sources import InboundRequest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO / "mappings" / "samples" / "stripe"
SECRET = "whsec_test_b2f1c0d9e8a7f6e5d4c3b2a1"
_ids = itertools.count(1)


def sample(event_type: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((SAMPLES / f"{event_type}.json").read_bytes())
    return loaded


def event(
    event_type: str, *, event_id: str | None = None, created: int | None = None, **fields: Any
) -> dict[str, Any]:
    """A sample event of `event_type` with a fresh id and `fields` set on `data.object`."""
    built = copy.deepcopy(sample(event_type))
    built["id"] = event_id or f"evt_test_{next(_ids):08d}_{time.monotonic_ns()}"
    if created is not None:
        built["created"] = created
    built["data"]["object"].update(fields)
    return built


def body(payload: dict[str, Any]) -> bytes:
    return orjson.dumps(payload)


def signature(raw: bytes, secret: str = SECRET, timestamp: int | None = None) -> str:
    header: str = stripe.WebhookSignature.generate_signature_header(raw.decode(), secret, timestamp)
    return header


def signed(
    payload: dict[str, Any], secret: str = SECRET, timestamp: int | None = None
) -> tuple[bytes, dict[str, str]]:
    """The raw body and the headers Stripe would send with it."""
    raw = body(payload)
    return raw, {
        "Stripe-Signature": signature(raw, secret, timestamp),
        "Content-Type": "application/json",
    }


def inbound(payload: dict[str, Any], secret: str = SECRET) -> InboundRequest:
    """The request Stripe would send with `payload`, as the ingest use case receives it."""
    raw, headers = signed(payload, secret)
    lowered = {name.lower(): value for name, value in headers.items()}
    return InboundRequest("POST", "http://bridge/webhooks/stripe", lowered, raw)
