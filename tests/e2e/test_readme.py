"""The README's commands, run as written."""

from __future__ import annotations

import re
import signal
import socket
import subprocess
import sys

import httpx
import pytest

from tests.support.process import BridgeProcess, free_port
from tests.support.stripe import REPO, signature
from tests.support.vendor import LoopbackVendor
from tests.support.waiting import wait_until

pytestmark = pytest.mark.slow

README = (REPO / "README.md").read_text()


def readme_block(marker: str) -> str:
    match = re.search(rf"<!-- readme-test: {marker} -->\n```sh\n(.*?)```", README, re.S)
    assert match, f"README has no block marked {marker}"
    return match.group(1)


def test_the_signed_event_snippet_is_accepted_and_delivered(
    bridge_process: BridgeProcess, vendor: LoopbackVendor
) -> None:
    snippet = readme_block("signed-event")
    secret = re.search(r"export STRIPE_WEBHOOK_SECRET=(\S+)", snippet).group(1)  # type: ignore[union-attr]
    bridge_process.env["STRIPE_WEBHOOK_SECRET"] = secret
    bridge_process.start()
    result = subprocess.run(
        [
            "bash",
            "-euo",
            "pipefail",
            "-c",
            snippet.replace(".venv/bin/bridge", f"{sys.executable} -m bridge"),
        ],
        cwd=REPO,
        env=bridge_process.env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        f"POST http://127.0.0.1:{bridge_process.port}/webhooks/stripe",
        "200 OK",
        '{"status":"accepted","event_id":"evt_1SAbCdEfGhIjKlMn0001","deliveries":1}',
    ]
    [received] = vendor.wait_for(1, acknowledged=True)
    assert received.json()["events"][0]["revenue"] == 2499


def test_scripts_run_serves_and_shuts_down_gracefully(bridge_process: BridgeProcess) -> None:
    assert "./scripts/run" in README
    log = bridge_process.workdir / "scripts-run.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [str(REPO / "scripts" / "run")],
            env=bridge_process.env,
            cwd=bridge_process.workdir,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(lambda: _healthy(bridge_process.url), timeout=90)
        finally:
            process.send_signal(signal.SIGTERM)
            # uvicorn shuts down, then re-raises the signal so the exit status reports it
            assert process.wait(30) in (0, -signal.SIGTERM)
    assert "Application shutdown complete" in log.read_text()


def _healthy(url: str) -> bool:
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.HTTPError:
        return False


def test_the_local_stand_in_prints_what_bridge_delivers(bridge_process: BridgeProcess) -> None:
    snippet = readme_block("stand-in")
    port = free_port()
    stand_in = subprocess.Popen(
        ["bash", "-c", snippet.replace("9999", str(port))],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_until(lambda: _listening(port), timeout=10)
        bridge_process.env["PAGENT_BASE_URL"] = f"http://127.0.0.1:{port}"
        bridge_process.start()
        payload = (REPO / "mappings/samples/stripe/checkout.session.completed.json").read_bytes()
        headers = {"Stripe-Signature": signature(payload), "Content-Type": "application/json"}
        answer = httpx.post(
            f"{bridge_process.url}/webhooks/stripe", content=payload, headers=headers
        )
        assert answer.json()["status"] == "accepted"
        assert stand_in.stdout is not None
        line = stand_in.stdout.readline()
        assert line.startswith("POST /v1/conversions {")
        assert '"revenue":2499' in line
        wait_until(
            lambda: "delivered" in bridge_process.cli("deliveries", "list").stdout, timeout=10
        )
    finally:
        stand_in.terminate()
        stand_in.wait(10)
        if stand_in.stdout is not None:
            stand_in.stdout.close()


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0
