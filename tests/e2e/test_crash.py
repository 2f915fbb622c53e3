"""Nothing accepted is lost when the process dies: SIGKILL after the 200, before delivery."""

from __future__ import annotations

import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import Answer, LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


def test_a_conversion_accepted_before_a_kill_is_delivered_after_restart(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    vendor.script(Answer(delay=30))  # the first send hangs: the kill lands mid-delivery
    bridge_process.start()
    raw, headers = s.signed(s.event("checkout.session.completed", event_id="evt_crash"))
    accepted = bridge_process.post("/webhooks/stripe", raw, headers)
    assert accepted.json()["status"] == "accepted"
    [in_flight] = vendor.wait_for(1)
    bridge_process.kill()
    assert vendor.acknowledged == []  # pagent never answered the killed attempt

    bridge_process.start()  # lease (2 s in tests) runs out, the new process re-claims it
    [redelivered] = vendor.wait_for(1, acknowledged=True)
    assert redelivered.json() == in_flight.json()
    assert wait_until(
        lambda: bridge_process.rows("SELECT status, attempts FROM deliveries") == [("delivered", 1)]
    )


def test_events_acknowledged_by_a_process_without_a_worker_survive_a_kill(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    bridge_process.start("--no-worker")
    for n in range(20):
        raw, headers = s.signed(
            s.event(
                "checkout.session.completed",
                event_id=f"evt_kill_{n}",
                payment_intent=f"pi_kill_{n}",
            )
        )
        assert bridge_process.post("/webhooks/stripe", raw, headers).status_code == 200
    bridge_process.kill()
    bridge_process.start()
    vendor.wait_for(1, acknowledged=True)
    wait_until(lambda: len(list(vendor.events())) == 20)
    assert sorted(e["revenue"] for e in vendor.events()) == [2499] * 20
