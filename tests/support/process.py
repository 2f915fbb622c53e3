"""`bridge serve` as a real process on 127.0.0.1, the way users run it."""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Self

import httpx

from tests.support.stripe import REPO, SECRET

FAST_WORKER = {
    "BRIDGE_WORKER_POLL_INTERVAL_SECONDS": "0.1",
    "BRIDGE_RETRY_BASE_SECONDS": "0.05",
    "BRIDGE_RETRY_MAX_DELAY_SECONDS": "0.5",
    "BRIDGE_WORKER_LEASE_SECONDS": "2",
    "BRIDGE_WORKER_SHUTDOWN_GRACE_SECONDS": "2",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class BridgeProcess:
    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.db = workdir / "data" / "bridge.db"
        self.env = {
            **os.environ,
            "BRIDGE_HOST": "127.0.0.1",
            "BRIDGE_DATABASE_URL": f"sqlite:///{self.db}",
            "BRIDGE_MAPPINGS_DIR": str(REPO / "mappings"),
            "BRIDGE_LOG_FORMAT": "json",
            "STRIPE_WEBHOOK_SECRET": SECRET,
            "PAGENT_API_KEY": "pk_test_loopback",
            **FAST_WORKER,
            **(env or {}),
        }
        self.env["BRIDGE_PORT"] = str(self.port)  # every process its own ports
        self.env["BRIDGE_ADMIN_PORT"] = str(free_port())
        self._process: subprocess.Popen[bytes] | None = None
        self._runs = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def admin_url(self) -> str:
        """The admin port: `/metrics`, `/admin`, `/readyz` with detail."""
        return f"http://127.0.0.1:{self.env['BRIDGE_ADMIN_PORT']}"

    def start(self, *args: str, command: str = "serve") -> Self:
        """Run `bridge COMMAND ARGS` and wait until it answers /healthz."""
        self._runs += 1
        with (self.workdir / f"bridge-{self._runs}.log").open("wb") as log:  # the child has its own
            self._process = subprocess.Popen(
                [sys.executable, "-m", "bridge", command, *args],
                env=self.env,
                cwd=self.workdir,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise AssertionError(
                    f"bridge exited with {self._process.returncode}:\n{self.logs()}"
                )
            try:
                if httpx.get(f"{self.url}/healthz", timeout=0.5).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.05)
        raise AssertionError(f"bridge did not become healthy:\n{self.logs()}")

    def post(
        self, path: str, content: bytes, headers: dict[str, str] | None = None
    ) -> httpx.Response:
        return httpx.post(f"{self.url}{path}", content=content, headers=headers or {}, timeout=10)

    def alive(self) -> bool:
        """True while the process started last is running."""
        return self._process is not None and self._process.poll() is None

    def hang_up(self) -> None:
        """SIGHUP: reload the mapping files, as `kill -HUP` would."""
        assert self._process is not None
        self._process.send_signal(signal.SIGHUP)

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crashed or OOM-killed pod."""
        assert self._process is not None
        self._process.send_signal(signal.SIGKILL)
        self._process.wait(10)

    def stop(self) -> int:
        if self._process is None:
            return 0
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGTERM)
            self._process.wait(20)
        return self._process.returncode

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "bridge", *args],
            env=self.env,
            cwd=self.workdir,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    def logs(self) -> str:
        return "\n".join(
            path.read_text(errors="replace") for path in sorted(self.workdir.glob("bridge-*.log"))
        )

    def rows(self, sql: str, *params: Any) -> list[tuple[Any, ...]]:
        """Read the SQLite file directly (read-only), as an operator with sqlite3 would."""
        connection = sqlite3.connect(f"file:{self.db}?mode=ro", uri=True)
        try:
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()
