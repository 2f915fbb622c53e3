"""Process layouts: API and worker apart, explicit migrations."""

from __future__ import annotations

import socket

import httpx
import pytest

from bridge.store.migrations import migrations
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
        assert httpx.get(f"{worker.url}/readyz").json() == {"status": "ready"}
        assert httpx.get(f"{worker.admin_url}/readyz").json()["worker"] is True
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
    versions = [migration.version for migration in migrations("sqlite")]
    assert result.stdout == f"database schema is at version {max(versions)}\n"
    applied = bridge_process.rows("SELECT version FROM schema_migrations ORDER BY version")
    assert applied == [(version,) for version in versions]


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "99999"], "error: --port: Input should be less than or equal to 65535"),
        (["--port", "-1"], "error: --port: Input should be greater than or equal to 0"),
    ],
)
def test_a_flag_is_checked_as_its_variable_is(
    bridge_process: BridgeProcess, flags: list[str], message: str
) -> None:
    result = bridge_process.cli("serve", *flags)
    assert result.returncode == 2
    assert message in result.stderr
    bridge_process.env["BRIDGE_PORT"] = flags[1]
    assert bridge_process.cli("serve").returncode == 2


def test_metrics_and_the_admin_api_are_served_on_the_admin_port_only(
    bridge_process: BridgeProcess,
) -> None:
    bridge_process.env["BRIDGE_ADMIN_TOKEN"] = "adm_" + "c0ffee5ea1d2b3c4" * 2
    auth = {"Authorization": "Bearer " + bridge_process.env["BRIDGE_ADMIN_TOKEN"]}
    bridge_process.start()
    for path in ("/metrics", "/admin/events"):
        assert httpx.get(f"{bridge_process.url}{path}", headers=auth).status_code == 404
        assert httpx.get(f"{bridge_process.admin_url}{path}", headers=auth).status_code == 200
    assert httpx.get(f"{bridge_process.url}/readyz").json() == {"status": "ready"}


def test_an_admin_port_in_use_stops_the_start_with_its_name(
    bridge_process: BridgeProcess,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        bridge_process.env["BRIDGE_ADMIN_PORT"] = str(port)
        result = bridge_process.cli("serve")
    assert result.returncode == 1
    assert (
        f"error: cannot listen on 127.0.0.1:{port}, the admin port (BRIDGE_ADMIN_PORT): "
        in result.stderr
    )
