"""The store cannot commit (database locked by another process, disk full): the sender gets
503 and retries, never a 200 for an event that was not stored; once the fault clears, the retry
is accepted and delivered once."""

from __future__ import annotations

import resource
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.faults.helpers import FaultProcess, conversion_event, report, session_id
from tests.support import stripe as s
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def bridge(tmp_path: Path, vendor: LoopbackVendor) -> Iterator[FaultProcess]:
    settings = {
        "PAGENT_BASE_URL": vendor.url,
        "BRIDGE_SQLITE_BUSY_TIMEOUT_MS": "300",
        # Longer than the fault: a worker that could not record a delivery keeps its lease and
        # records it once the lock is gone, instead of sending it again (default: 60 s).
        "BRIDGE_WORKER_LEASE_SECONDS": "10",
    }
    process = FaultProcess(tmp_path, settings)
    yield process
    process.stop()


def post(bridge: FaultProcess, tag: str, n: int) -> int:
    raw, headers = s.signed(conversion_event(tag, n))
    return bridge.post("/webhooks/stripe", raw, headers).status_code


def delivered_sessions(vendor: LoopbackVendor) -> list[str]:
    return [event["session_id"] for event in vendor.events()]


def test_a_database_locked_by_another_process_gets_503_then_the_retry_is_delivered(
    bridge: FaultProcess, vendor: LoopbackVendor
) -> None:
    bridge.start()
    assert post(bridge, "lock", 0) == 200
    holder = sqlite3.connect(bridge.db, timeout=10, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # e.g. a backup tool or an operator's sqlite3 shell
    try:
        statuses = [post(bridge, "lock", n) for n in (1, 2, 3)]
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert statuses == [503, 503, 503]
    assert {"evt_lock_0001", "evt_lock_0002"}.isdisjoint(bridge.stored_events())
    assert [post(bridge, "lock", n) for n in (1, 2, 3)] == [200, 200, 200]  # the sender retries
    wait_until(lambda: len(delivered_sessions(vendor)) >= 4, timeout=30)
    assert sorted(delivered_sessions(vendor)) == [session_id("lock", n) for n in range(4)]
    report("database locked: 3 webhooks answered 503 (0 stored), retried: 3 x 200, delivered 4/4")


def test_a_full_disk_gets_503_never_200_and_nothing_is_lost(
    bridge: FaultProcess, vendor: LoopbackVendor
) -> None:
    bridge.start()
    assert post(bridge, "disk", 0) == 200
    files = [bridge.db, bridge.db.with_name(bridge.db.name + "-wal")]
    size = max(path.stat().st_size for path in files if path.exists())
    # No file of the process may grow any more: SQLite gets EFBIG, as on a full disk.
    _, hard = resource.prlimit(bridge.pid, resource.RLIMIT_FSIZE)
    resource.prlimit(bridge.pid, resource.RLIMIT_FSIZE, (size, hard))
    answers: dict[int, int] = {}
    try:
        for n in range(1, 400):
            answers[n] = post(bridge, "disk", n)
            if answers[n] == 503:
                break
    finally:
        resource.prlimit(bridge.pid, resource.RLIMIT_FSIZE, (hard, hard))  # room again
    refused = [n for n, status in answers.items() if status == 503]
    accepted = [n for n, status in answers.items() if status == 200]
    assert refused, "the disk never filled up"
    assert set(answers.values()) <= {200, 503}
    stored = bridge.stored_events()
    assert all(f"evt_disk_{n:04d}" not in stored for n in refused)
    assert all(f"evt_disk_{n:04d}" in stored for n in accepted)
    for n in refused:  # the sender retries once there is room again
        assert post(bridge, "disk", n) == 200
    expected = sorted(session_id("disk", n) for n in [0, *answers])
    wait_until(lambda: len(delivered_sessions(vendor)) >= len(expected), timeout=60)
    assert sorted(delivered_sessions(vendor)) == expected
    assert bridge.rows("PRAGMA integrity_check") == [("ok",)]
    report(
        f"disk full: {len(accepted)} x 200 before it filled, {len(refused)} x 503 (none stored), "
        f"retried: all 200; delivered {len(expected)}/{len(expected)}, lost 0, integrity ok"
    )
