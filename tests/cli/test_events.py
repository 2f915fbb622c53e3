"""`events list`, `events show` and `replay` over a real SQLite file filled by the real ingest."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.cli import main
from bridge.store.base import AttemptRecord
from bridge.store.sqlite import SQLiteStore
from bridge.use_cases.ingest import Ingestor
from tests.store.conftest import new_event
from tests.support import stripe as s
from tests.support.mappings import config_with_rules

# The mistake users make most: the rule reads a metadata key the checkout never sets.
WRONG_KEY = """
rules:
  - name: stripe-checkout-paid
    source: stripe
    events: checkout.session.completed
    destination: pagent
    conversion:
      session_id: data.object.metadata.pagent_session
      user_id: data.object.metadata.pagent_user_id
      goal_id: data.object.metadata.pagent_conversion_id
      revenue: stripe_money(data.object.amount_total, data.object.currency)
      transaction_id: data.object.payment_intent
"""


async def receive_with_wrong_mapping(database: Path, folder: Path, *event_ids: str) -> None:
    config = config_with_rules(folder, WRONG_KEY)
    store = await SQLiteStore.open(database)
    ingestor = Ingestor(config, store)
    for index, event_id in enumerate(event_ids):
        payload = s.event(
            "checkout.session.completed", event_id=event_id, payment_intent=f"pi_{index}"
        )
        reply = await ingestor.receive("stripe", s.inbound(payload))
        assert reply.body["status"] == "unmapped", reply.body
    await store.close()


def now_ms() -> int:
    return int(time.time() * 1000)


def stored_json(capsys: pytest.CaptureFixture[str], *command: str) -> Any:
    capsys.readouterr()
    assert main([*command, "--json"]) == 0
    return orjson.loads(capsys.readouterr().out)


def test_events_list_filters_by_outcome_source_and_time(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(receive_with_wrong_mapping(environment, tmp_path, "evt_a", "evt_b"))
    assert main(["events", "list"]) == 0
    out = capsys.readouterr().out
    assert "unmapped" in out
    assert "session_id" in out  # the reason names the missing field
    listed = stored_json(capsys, "events", "list", "--outcome", "unmapped", "--since", "1h")
    assert [e["event_id"] for e in listed] == ["evt_b", "evt_a"]
    assert stored_json(capsys, "events", "list", "--outcome", "accepted") == []
    assert stored_json(capsys, "events", "list", "--source", "stripe-eu") == []
    assert stored_json(capsys, "events", "list", "--until", "2020-01-01") == []
    assert main(["events", "list", "--since", "yesterday-ish"]) == 2
    assert "is not a time" in capsys.readouterr().err


def test_replay_dry_run_shows_old_and_new_outcome_and_changes_nothing(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(receive_with_wrong_mapping(environment, tmp_path, "evt_a"))
    capsys.readouterr()
    assert main(["replay", "--outcome", "unmapped", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "stripe:evt_a" in out
    assert "unmapped  ->  accepted" in out
    assert "nothing stored or sent" in out
    [event] = stored_json(capsys, "events", "list")
    assert event["outcome"] == "unmapped"
    assert stored_json(capsys, "deliveries", "list") == []


def test_replay_after_fixing_the_mapping_delivers_once_however_often_it_runs(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(receive_with_wrong_mapping(environment, tmp_path, "evt_a", "evt_b"))
    replayed = stored_json(capsys, "replay", "--outcome", "unmapped", "--since", "1d")
    assert [(r["event_id"], r["before"], r["after"], r["new_deliveries"]) for r in replayed] == [
        ("evt_a", "unmapped", "accepted", 1),
        ("evt_b", "unmapped", "accepted", 1),
    ]
    again = stored_json(capsys, "replay", "evt_a", "evt_b")
    assert [r["new_deliveries"] for r in again] == [0, 0]
    deliveries = stored_json(capsys, "deliveries", "list")
    assert sorted(d["event_id"] for d in deliveries) == ["evt_a", "evt_b"]


def test_replay_needs_a_selection(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay"]) == 2
    assert "give event ids" in capsys.readouterr().err


def test_events_show_tells_the_whole_story_with_the_vendor_answer(
    environment: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    asyncio.run(receive_with_wrong_mapping(environment, tmp_path, "evt_a"))
    assert main(["events", "show", "evt_a"]) == 0
    before = capsys.readouterr().out
    assert "  outcome   unmapped\n" in before  # the reason is the rule's, stated once below
    assert "stripe-checkout-paid: unmapped (session_id is missing" in before
    assert before.count("data.object.metadata.pagent_session") == 1
    assert "deliveries: none" in before
    assert main(["replay", "evt_a"]) == 0

    async def vendor_answers_503() -> None:
        store = await SQLiteStore.open(environment)
        [claimed] = await store.claim("w", now_ms(), 10, 1000, ["pagent"])
        attempt = AttemptRecord(
            claimed.id,
            "pending",
            now_ms(),
            41,
            next_attempt_at=now_ms() + 5000,
            http_status=503,
            answer="HTTP 503: upstream busy",
        )
        await store.record("w", [attempt])
        await store.close()

    asyncio.run(vendor_answers_503())
    capsys.readouterr()
    assert main(["events", "show", "evt_a"]) == 0
    after = capsys.readouterr().out
    assert "outcome   accepted" in after
    assert "-> pagent (rule stripe-checkout-paid): pending after 1 attempt" in after
    assert "HTTP 503  41 ms  HTTP 503: upstream busy" in after
    trace = stored_json(capsys, "events", "show", "evt_a")
    [delivery] = trace["deliveries"]
    assert delivery["conversion"]["transaction_id"] == "pi_0"
    assert [a["http_status"] for a in delivery["attempts"]] == [503]


def test_events_show_says_when_nothing_is_stored(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def empty_store() -> None:
        await (await SQLiteStore.open(environment)).close()

    asyncio.run(empty_store())
    assert main(["events", "show", "evt_never"]) == 1
    assert "no event 'evt_never' is stored" in capsys.readouterr().err


def test_events_list_marks_a_cut_reason_with_an_ellipsis(
    environment: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async def store_long_reason() -> None:
        store = await SQLiteStore.open(environment)
        detail = orjson.dumps({"reason": "r" * 300, "rules": []})
        await store.ingest([replace(new_event("evt_long", outcome="unmapped"), detail=detail)])
        await store.close()

    asyncio.run(store_long_reason())
    assert main(["events", "list"]) == 0
    reason = capsys.readouterr().out.splitlines()[-1].strip()
    assert reason == "r" * 199 + "…"


def test_events_show_says_a_delivery_waits_for_an_unset_secret(
    environment: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def store_waiting() -> None:
        store = await SQLiteStore.open(environment)
        await store.ingest([new_event("evt_waiting", ("pagent", "k1"))])
        await store.close()

    asyncio.run(store_waiting())
    monkeypatch.delenv("PAGENT_API_KEY")
    assert main(["events", "show", "evt_waiting"]) == 0
    out = capsys.readouterr().out
    assert "-> pagent (rule rule): pending after 0 attempts\n" in out
    assert "      waiting: PAGENT_API_KEY is not set\n" in out
    assert "next attempt" not in out
