"""A failing vendor only delays conversions: each is delivered once the vendor recovers, once.

A real `bridge serve` on 127.0.0.1 delivers to `FaultyVendor`, which answers the first requests
with a fault (500, 429 with Retry-After, a hang past the timeout, a connection reset) and then
recovers; or answers slowly all along. The vendor counts conversions by id among the requests
it answered 2xx.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from tests.faults.helpers import (
    FaultProcess,
    conversion_event,
    fault_mappings,
    report,
    session_id,
)
from tests.faults.vendor import FAULTS, Fault, FaultyVendor
from tests.support import stripe as s
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

EVENTS = 12
FAULTY_REQUESTS = 4
TIMEOUT_SECONDS = 2
SEED = 20240611


def plan_for(scenario: str) -> tuple[int, dict[int, Fault]]:
    """(events to send, the fault of each of the first requests) for a scenario."""
    if scenario == "slow":
        return EVENTS, {}  # every answer slow; see `fault_of`
    if scenario == "mixed":
        rng = random.Random(SEED)
        return 2 * EVENTS, {n: rng.choice(FAULTS) for n in range(10)}
    return EVENTS, dict.fromkeys(range(FAULTY_REQUESTS), scenario)  # type: ignore[arg-type]


@pytest.fixture
def run(tmp_path: Path) -> Iterator[list[FaultyVendor | FaultProcess]]:
    started: list[FaultyVendor | FaultProcess] = []
    yield started
    for thing in reversed(started):
        thing.stop()


def post_all(bridge: FaultProcess, events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Post signed events four at a time, as a sender with a burst of events would."""

    def post(event: dict[str, Any]) -> dict[str, Any]:
        raw, headers = s.signed(event)
        response = bridge.post("/webhooks/stripe", raw, headers)
        assert response.status_code == 200, response.text
        answer: dict[str, Any] = response.json()
        return answer

    with ThreadPoolExecutor(4) as pool:
        return list(pool.map(post, events))


def settled_states(bridge: FaultProcess) -> dict[str, tuple[str, int]] | None:
    """Every delivery's (status, attempts) once none is pending, else None."""
    found = bridge.delivery_states()
    if found and all(status != "pending" for status, _ in found.values()):
        return found
    return None


def serve(tmp_path: Path, vendor: FaultyVendor, *, max_age_hours: float = 0.05) -> FaultProcess:
    folder = fault_mappings(tmp_path, timeout_seconds=TIMEOUT_SECONDS, max_age_hours=max_age_hours)
    return FaultProcess(
        tmp_path,
        {
            "PAGENT_BASE_URL": vendor.url,
            "BRIDGE_MAPPINGS_DIR": str(folder),
            "BRIDGE_WORKER_LEASE_SECONDS": "10",
            # above the vendor's Retry-After (2 s): the max delay caps what a vendor asks for
            "BRIDGE_RETRY_MAX_DELAY_SECONDS": "5",
        },
    )


@pytest.mark.parametrize("scenario", [*FAULTS, "mixed"])
def test_every_conversion_arrives_once_after_the_vendor_recovers(
    tmp_path: Path, run: list[FaultyVendor | FaultProcess], scenario: str
) -> None:
    count, faults = plan_for(scenario)

    def fault_of(index: int) -> Fault:
        return "slow" if scenario == "slow" else faults.get(index, "ok")

    vendor = FaultyVendor(fault_of).start()
    run.append(vendor)
    bridge = serve(tmp_path, vendor).start()
    run.append(bridge)
    tag = f"v{scenario}"
    answers = post_all(bridge, [conversion_event(tag, n) for n in range(count)])
    assert [a["status"] for a in answers] == ["accepted"] * count

    expected = {session_id(tag, n) for n in range(count)}
    states = wait_until(partial(settled_states, bridge), timeout=60, interval=0.1)
    accepted = vendor.accepted()
    assert set(accepted) == expected  # every conversion arrived ...
    assert sorted(set(accepted.values())) == [1]  # ... exactly once
    assert {status for status, _ in states.values()} == {"delivered"}  # none dead
    late = bridge.rows(
        "SELECT COUNT(*) FROM deliveries WHERE finished_at IS NULL OR finished_at >= expires_at"
    )
    assert late == [(0,)]  # all within the maximum age

    injected = vendor.faults_injected()
    retried = sum(attempts > 1 for _, attempts in states.values())
    if scenario == "slow":
        assert retried == 0  # slow but within the timeout: nothing is sent twice
    else:
        assert sum(injected.values()) >= 1
        assert retried >= 1
    check_recorded_answers(bridge, scenario)
    total = sum(accepted.values())
    report(
        f"vendor fault {scenario}: faults injected {sum(injected.values())}"
        f" ({', '.join(f'{k}={v}' for k, v in sorted(injected.items()))}),"
        f" requests {len(vendor.history())}, conversions {count}, delivered distinct"
        f" {len(accepted)}, total {total}, retried {retried}, lost {count - len(accepted)}"
    )


def check_recorded_answers(bridge: FaultProcess, scenario: str) -> None:
    """The attempts table holds what the vendor did, and `Retry-After` was waited out."""
    rows = bridge.rows(
        "SELECT delivery_ref, attempted_at, http_status, outcome, answer FROM attempts"
        " ORDER BY delivery_ref, id"
    )
    failed = [row for row in rows if row[3] != "delivered"]
    if scenario == "500":
        assert {row[2] for row in failed} == {500}
    elif scenario == "429":
        assert {row[2] for row in failed} == {429}
        by_delivery: dict[int, list[tuple[int, int | None]]] = {}
        for delivery, attempted_at, status, _, _ in rows:
            by_delivery.setdefault(delivery, []).append((attempted_at, status))
        gaps = [
            later[0] - earlier[0]
            for attempts in by_delivery.values()
            for earlier, later in itertools.pairwise(attempts)
            if earlier[1] == 429
        ]
        assert gaps
        assert min(gaps) >= 2000  # Retry-After: 2 honoured, not the 50 ms backoff
    elif scenario == "hang":
        assert {row[4] for row in failed} == {f"no answer within {TIMEOUT_SECONDS}s"}
    elif scenario == "reset":
        assert all(row[4].startswith("connection failed") for row in failed)
    elif scenario == "slow":
        assert failed == []


def test_a_vendor_that_never_recovers_leaves_conversions_dead_at_the_maximum_age(
    tmp_path: Path, run: list[FaultyVendor | FaultProcess]
) -> None:
    vendor = FaultyVendor(lambda index: "500").start()
    run.append(vendor)
    bridge = serve(tmp_path, vendor, max_age_hours=0.001).start()  # 3.6 s
    run.append(bridge)
    post_all(bridge, [conversion_event("vdown", n) for n in range(3)])
    wait_until(
        lambda: {status for status, _ in bridge.delivery_states().values()} == {"dead"},
        timeout=30,
        interval=0.1,
    )
    answers = {row[0] for row in bridge.rows("SELECT last_answer FROM deliveries")}
    assert all(answer.startswith("max age reached") for answer in answers)
    tried = bridge.rows(
        "SELECT delivery_ref, COUNT(*) FROM attempts WHERE http_status = 500 GROUP BY delivery_ref"
    )
    assert len(tried) == 3  # each was tried (and refused) before its time ran out
    assert vendor.accepted() == {}
    report(
        f"vendor down past the maximum age: faults injected {len(vendor.history())},"
        " conversions 3, dead 3 with the vendor's last answer, delivered 0"
    )
