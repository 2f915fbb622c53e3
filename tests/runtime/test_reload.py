"""Mapping files changed while bridge runs: a good edit is swapped in, a bad one is refused
while the running files keep working, and the directory is watched by its contents."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest

from bridge.runtime.reload import MappingWatcher, fingerprint
from bridge.runtime.service import Bridge
from bridge.runtime.settings import Settings
from tests.support import stripe as s
from tests.support.mappings import ENVIRON, GOAL_RULE, PAGENT, SOURCE, write_mappings


@pytest.fixture
async def bridge(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Bridge]:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    folder = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=GOAL_RULE % "goal-old")
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'b.db'}",
        mappings_dir=folder,
        mappings_reload_seconds=0,
    )
    started = await Bridge.start(settings, run_worker=False)
    try:
        yield started
    finally:
        await started.close()


async def goal_of_a_checkout(bridge: Bridge) -> tuple[str, dict[str, Any]]:
    """What a checkout becomes now: its answer's status and the goal it was recorded for."""
    payload = s.event("checkout.session.completed", client_reference_id="sess-1")
    reply = await bridge.ingestor.receive("stripe", s.inbound(payload))
    trace = await bridge.store.event_trace("stripe", reply.body["event_id"])
    assert trace is not None
    [conversion] = [orjson.loads(held) for held in trace.conversions.values()]
    return reply.body["status"], {"goal": conversion["goal_id"], "mapping": trace.mapping_version}


async def test_a_good_edit_is_swapped_in_and_events_say_which_files_judged_them(
    bridge: Bridge,
) -> None:
    before = bridge.config.version
    assert await goal_of_a_checkout(bridge) == ("accepted", {"goal": "goal-old", "mapping": before})
    (bridge.settings.mappings_dir / "rules.yaml").write_text(GOAL_RULE % "goal-new")
    assert await bridge.reload("test") is True
    after = bridge.config.version
    assert after != before
    assert await goal_of_a_checkout(bridge) == ("accepted", {"goal": "goal-new", "mapping": after})
    assert bridge.reload_problem is None


async def test_a_bad_edit_is_refused_and_the_running_files_keep_working(
    bridge: Bridge, caplog: pytest.LogCaptureFixture
) -> None:
    rules = bridge.settings.mappings_dir / "rules.yaml"
    rules.write_text((GOAL_RULE % "goal-new").replace("destination: pagent", "destination: pagnet"))
    assert await bridge.reload("test") is False
    assert bridge.reload_problem is not None
    assert f"{rules}:" in bridge.reload_problem
    assert "unknown destination 'pagnet'" in bridge.reload_problem
    assert bridge.metrics.mapping_reload_failures._value.get() == 1
    assert "mapping files not reloaded: the running ones are kept" in caplog.text
    status, made = await goal_of_a_checkout(bridge)
    assert (status, made["goal"]) == ("accepted", "goal-old")
    ready, detail = await bridge.readiness()
    assert ready  # the running files still work
    assert detail["mappings"]["reload_problem"] == bridge.reload_problem

    rules.write_text(GOAL_RULE % "goal-fixed")
    assert await bridge.reload("test") is True
    assert refused(bridge) is None
    assert (await goal_of_a_checkout(bridge))[1]["goal"] == "goal-fixed"


def refused(bridge: Bridge) -> str | None:
    """Why the last reload was refused (read through a call: no narrowing carries over)."""
    return bridge.reload_problem


def test_the_fingerprint_follows_contents_not_times(tmp_path: Path) -> None:
    folder = write_mappings(tmp_path, rules=GOAL_RULE % "a")
    first = fingerprint(folder)
    (folder / "rules.yaml").write_text(GOAL_RULE % "a")  # same bytes, a new time
    assert fingerprint(folder) == first
    (folder / "notes.txt").write_text("not a mapping file")
    assert fingerprint(folder) == first
    (folder / "rules.yaml").write_text(GOAL_RULE % "b")
    assert fingerprint(folder) != first
    assert fingerprint(tmp_path / "missing") == ""


async def test_the_watcher_reloads_once_the_files_settle(bridge: Bridge) -> None:
    task = asyncio.create_task(MappingWatcher(bridge, 0.05).run())
    try:
        await asyncio.sleep(0.1)
        (bridge.settings.mappings_dir / "rules.yaml").write_text(GOAL_RULE % "goal-watched")
        for _ in range(100):
            if bridge.config.rules.rules[0].entries["goal_id"].search({}) == "goal-watched":
                break
            await asyncio.sleep(0.02)
        assert (await goal_of_a_checkout(bridge))[1]["goal"] == "goal-watched"
    finally:
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
