"""Process layouts: API and worker apart, explicit migrations."""

from __future__ import annotations

import httpx
import pytest

from tests.support import stripe as s
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor

pytestmark = pytest.mark.slow


def test_api_and_worker_can_run_as_separate_processes(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    api = bridge_process.start("--no-worker")
    worker = BridgeProcess(api.workdir, api.env).start(command="worker")  # same database
    try:
        assert httpx.get(f"{worker.url}/readyz").json()["worker"] is True
        assert httpx.post(f"{worker.url}/webhooks/stripe", content=b"{}").status_code == 404
        raw, headers = s.signed(s.event("checkout.session.completed", event_id="evt_split"))
        assert api.post("/webhooks/stripe", raw, headers).json()["status"] == "accepted"
        [received] = vendor.wait_for(1, acknowledged=True)
        assert received.json()["events"][0]["revenue"] == 2499
    finally:
        worker.stop()


def test_migrate_prepares_the_database_and_reports_its_version(
    bridge_process: BridgeProcess,
) -> None:
    result = bridge_process.cli("migrate")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "database schema is at version 3\n"
    assert bridge_process.rows("SELECT version FROM schema_migrations") == [(1,), (2,), (3,)]
