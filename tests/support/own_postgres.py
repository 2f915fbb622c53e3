"""A PostgreSQL server of a test's own (scripts/test-postgres), which it may stop and start.

The shared server of BRIDGE_TEST_DATABASE_URL serves every test at once; a test that takes
the database away (an outage) needs a server no one else uses.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.stripe import REPO

SCRIPT = REPO / "scripts" / "test-postgres"
INSTALLED = bool(list(Path("/usr/lib/postgresql").glob("*/bin/postgres")))
needs_server_binaries = pytest.mark.skipif(
    not INSTALLED, reason="PostgreSQL server binaries are not installed"
)


@contextmanager
def scratch_directory() -> Iterator[Path]:
    """A directory the server's own user can enter (pytest's are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="bridge-scripts-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def start(data: Path, port: int | None = None) -> str:
    """Start (or find running) the server of `data`, on `port` when given; its URL."""
    environ = {**os.environ, **({"BRIDGE_TEST_PG_PORT": str(port)} if port else {})}
    done = subprocess.run(
        [SCRIPT, "start", str(data)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        env=environ,
    )
    return done.stdout.strip()


def stop(data: Path) -> None:
    subprocess.run([SCRIPT, "stop", str(data)], check=True, timeout=60)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])
