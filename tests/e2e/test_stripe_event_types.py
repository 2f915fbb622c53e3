"""Every event type Stripe sends is answered 200 by the shipped Stripe setup, and stored.

The types are those of the installed `stripe` library (`stripe.Event.type`, which follows the
API as the library is upgraded). An event of a type with a shipped sample carries that sample's
object; any other carries an object of the resource its type names. Signed with Stripe's own
library and posted to the real app: a type the rules do not name is `ignored`, never refused.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest

from bridge.runtime.settings import Settings
from bridge.sources.event_types import known_event_types
from bridge.web.app import create_app
from tests.support import stripe as s
from tests.support.app import serving
from tests.support.mappings import ENVIRON

STRIPE_TYPES = sorted(known_event_types("stripe") or ())
SAMPLED = {path.stem for path in s.SAMPLES.glob("*.json")}


def example_event(number: int, event_type: str) -> dict[str, Any]:
    """An event of `event_type`: the shipped sample's object, or one of the named resource."""
    if event_type in SAMPLED:
        return s.event(event_type, event_id=f"evt_type_{number:04d}")
    event = s.event("checkout.session.completed", event_id=f"evt_type_{number:04d}")
    resource = event_type.rsplit(".", 1)[0]
    event["type"] = event_type
    event["data"] = {"object": {"id": f"obj_type_{number:04d}", "object": resource}}
    return event


async def test_every_event_type_stripe_lists_is_answered_200_and_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert len(STRIPE_TYPES) > 200  # the library's list, not an empty fallback
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    database = tmp_path / "bridge.db"
    settings = Settings(database_url=f"sqlite:///{database}", mappings_dir=s.REPO / "mappings")
    outcomes: Counter[str] = Counter()
    async with serving(create_app(settings, run_worker=False)) as client:
        for number, event_type in enumerate(STRIPE_TYPES):
            raw, headers = s.signed(example_event(number, event_type))
            answer: httpx.Response = await client.post(
                "/webhooks/stripe", content=raw, headers=headers
            )
            assert answer.status_code == 200, (event_type, answer.text)
            outcomes[answer.json()["status"]] += 1
    with sqlite3.connect(database) as connection:
        [(stored,)] = connection.execute("SELECT COUNT(*) FROM events").fetchall()
    assert stored == len(STRIPE_TYPES)
    assert outcomes["ignored"] == len(STRIPE_TYPES) - len(SAMPLED & set(STRIPE_TYPES))
    tally = ", ".join(f"{outcome} {n}" for outcome, n in sorted(outcomes.items()))
    print(f"\nstripe: {len(STRIPE_TYPES)} event types answered 200: {tally}")
