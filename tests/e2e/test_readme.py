"""The README's commands, run as written."""

from __future__ import annotations

import re
import signal
import subprocess

import httpx
import pytest

from tests.support.process import BridgeProcess
from tests.support.stripe import REPO
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
            snippet.replace("localhost:8080", f"127.0.0.1:{bridge_process.port}"),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert (
        result.stdout
        == '{"status":"accepted","event_id":"evt_1SAbCdEfGhIjKlMn0001","deliveries":1}'
    )
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
