"""What the identity ledger's join costs a webhook: the same rule planned with the ids in the
payload, with the ledger's identity already at hand (the mapping's share of the join), and
reading the ledger (one recall from a real SQLite file, then the plan). `bench.components`
adds the three rows to its stage table."""

from __future__ import annotations

import copy
import dataclasses
import shutil
import time
from pathlib import Path
from typing import Any

from bench.processes import MAPPINGS

LEDGER = """
ledgers:
  web:
    origins: ["https://shop.example.com"]
    vendors: [pagent]
"""

JOINED = """
rules:
  - name: joined
    source: stripe
    events: [checkout.session.completed]
    destination: pagent
    identity:
      ledger: web
      key: data.object.client_reference_id
    conversion:
      session_id: data.object.metadata.pagent_session_id || identity.pagent.session_id
      user_id: data.object.metadata.pagent_user_id || identity.pagent.user_id
      goal_id: data.object.metadata.pagent_conversion_id || identity.pagent.conversion_id
      revenue: stripe_money(data.object.amount_total, data.object.currency)
      transaction_id: data.object.payment_intent || data.object.id
"""


async def measure_join(
    workdir: Path, events: list[Any], environ: dict[str, str]
) -> dict[str, float]:
    """Microseconds of CPU per event: the plan with the ledger read, and without it."""
    from bridge.store.identities import Sighting
    from bridge.store.sqlite import SQLiteStore
    from bridge.use_cases.ingest import Ingestor

    config = _config(workdir / "join-mappings", JOINED, environ)
    path = workdir / "join.db"
    path.unlink(missing_ok=True)
    store = await SQLiteStore.open(path)
    try:
        now = int(time.time() * 1000)
        ids = {"session_id": "s", "user_id": "u", "conversion_id": "c"}
        refs = [f"ref{index:020d}" for index in range(len(events))]
        sightings = [Sighting("web", ref, "pagent", ids, now, now + 86_400_000) for ref in refs]
        await store.remember(sightings)
        for event, ref in zip(events, refs, strict=True):
            event.payload["data"]["object"]["client_reference_id"] = ref
            event.payload["data"]["object"]["metadata"] = {}
        plain = Ingestor(_config(workdir / "payload-mappings", PAYLOAD_IDS, environ), store)
        metadata = {"pagent_session_id": "s", "pagent_user_id": "u", "pagent_conversion_id": "c"}
        with_ids = [_with_metadata(event, metadata) for event in events]
        started = time.process_time()
        for event in with_ids:
            plain.plan(event, now)
        from_payload = _micros(started, len(events))
        ingestor = Ingestor(config, store, identities=store)
        started = time.process_time()
        for event in events:
            plan = await ingestor.plan_joined(event, now)
            assert plan.event.outcome == "accepted", plan.reason
        joined = _micros(started, len(events))
        known = {"joined": await store.recall("web", refs[0], now)}
        started = time.process_time()
        for event in events:
            ingestor.plan(event, now, known)
        planned = _micros(started, len(events))
    finally:
        await store.close()
    return {
        "plan, the same rule with the ids in the payload": from_payload,
        "plan with identity:, the identity already at hand": planned,
        "plan with identity:, recall from SQLite, then plan": joined,
    }


def _config(folder: Path, rules: str, environ: dict[str, str]) -> Any:
    """The bench's Stripe source and pagent, a ledger, and `rules`, loaded."""
    from bridge.mapping.config import load_config

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    for name in ("stripe.yaml", "pagent.yaml"):
        shutil.copy(MAPPINGS / name, folder / name)
    (folder / "ledger.yaml").write_text(LEDGER)
    (folder / "rules.yaml").write_text(rules)
    return load_config(folder, environ)


def _with_metadata(event: Any, metadata: dict[str, str]) -> Any:
    """A copy of `event` whose Checkout Session carries the pagent ids in its metadata."""
    payload = copy.deepcopy(event.payload)
    payload["data"]["object"]["metadata"] = metadata
    return dataclasses.replace(event, payload=payload)


PAYLOAD_IDS = (
    JOINED.replace(
        "    identity:\n      ledger: web\n      key: data.object.client_reference_id\n", ""
    )
    .replace(" || identity.pagent.session_id", "")
    .replace(" || identity.pagent.user_id", "")
    .replace(" || identity.pagent.conversion_id", "")
)
"""The same rule without `identity:`: its ids from the payload's metadata alone."""


def _micros(started: float, count: int) -> float:
    return round((time.process_time() - started) / max(count, 1) * 1e6, 1)
