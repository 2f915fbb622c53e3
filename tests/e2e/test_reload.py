"""Reload on a real `bridge serve`: an edit of the mapping files is picked up without a restart,
a bad edit is refused while the running rules keep converting, and SIGHUP reloads at once."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import stripe as s
from tests.support.mappings import GOAL_RULE, PAGENT, SOURCE, write_mappings
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def serve(tmp_path: Path, vendor: LoopbackVendor, reload_seconds: str) -> BridgeProcess:
    mappings = write_mappings(tmp_path, source=SOURCE, pagent=PAGENT, rules=GOAL_RULE % "goal-old")
    env = {
        "BRIDGE_MAPPINGS_DIR": str(mappings),
        "PAGENT_BASE_URL": vendor.url,
        "BRIDGE_MAPPINGS_RELOAD_SECONDS": reload_seconds,
    }
    return BridgeProcess(tmp_path, env)


def checkout(bridge: BridgeProcess, reference: str) -> str:
    payload = s.event("checkout.session.completed", client_reference_id=reference)
    raw, headers = s.signed(payload)
    answer = bridge.post("/webhooks/stripe", raw, headers)
    assert answer.status_code == 200, answer.text
    status: str = answer.json()["status"]
    return status


def goals(vendor: LoopbackVendor) -> dict[str, str]:
    return {event["session_id"]: event["conversion_id"] for event in vendor.events()}


def readiness(bridge: BridgeProcess) -> dict[str, object]:
    detail: dict[str, object] = httpx.get(f"{bridge.admin_url}/readyz").json()["mappings"]
    return detail


def test_an_edit_is_picked_up_and_a_bad_one_keeps_the_running_rules(
    tmp_path: Path, vendor: LoopbackVendor
) -> None:
    bridge = serve(tmp_path, vendor, "0.2").start()
    try:
        assert checkout(bridge, "s-1") == "accepted"
        before = readiness(bridge)["version"]
        rules = tmp_path / "mappings" / "rules.yaml"
        rules.write_text(GOAL_RULE % "goal-new")
        wait_until(lambda: readiness(bridge)["version"] != before, 10)
        assert "mapping files reloaded" in bridge.logs()
        assert checkout(bridge, "s-new") == "accepted"
        wait_until(lambda: goals(vendor).get("s-new") == "goal-new", 10)
        assert goals(vendor)["s-1"] == "goal-old"

        bad = (GOAL_RULE % "goal-bad").replace("destination: pagent", "destination: pagnet")
        rules.write_text(bad)
        wait_until(lambda: readiness(bridge)["reload_problem"] is not None, 10)
        problem = str(readiness(bridge)["reload_problem"])
        assert "unknown destination 'pagnet'" in problem
        assert f"{rules}:" in problem
        assert checkout(bridge, "s-2") == "accepted"
        wait_until(lambda: "s-2" in goals(vendor), 10)
        assert goals(vendor)["s-2"] == "goal-new"  # the running rules, not the refused edit
        metrics = httpx.get(f"{bridge.admin_url}/metrics").text
        assert "bridge_mapping_reload_failures_total 1.0" in metrics
    finally:
        bridge.stop()


def test_sighup_reloads_at_once(tmp_path: Path, vendor: LoopbackVendor) -> None:
    bridge = serve(tmp_path, vendor, "0").start()
    try:
        before = readiness(bridge)["version"]
        (tmp_path / "mappings" / "rules.yaml").write_text(GOAL_RULE % "goal-hup")
        bridge.hang_up()
        wait_until(lambda: readiness(bridge)["version"] != before, 10)
        assert checkout(bridge, "s-hup") == "accepted"
        wait_until(lambda: goals(vendor).get("s-hup") == "goal-hup", 10)
    finally:
        bridge.stop()
