"""The test scripts start a PostgreSQL server of their own and leave nothing running."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import stripe as s
from tests.support.own_postgres import (
    needs_server_binaries,
    port_of,
    scratch_directory,
    start,
    stop,
)

SCRIPTS = s.REPO / "scripts"
pytestmark = [pytest.mark.slow, needs_server_binaries]


@pytest.fixture
def scratch() -> Iterator[Path]:
    with scratch_directory() as folder:
        yield folder


def listening(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def test_each_server_gets_a_free_port_and_stops_when_asked(scratch: Path) -> None:
    first, second = scratch / "one", scratch / "two"
    try:
        url_one, url_two = start(first), start(second)
        assert port_of(url_one) != port_of(url_two)
        assert start(first) == url_one  # the same directory's running server is its own
    finally:
        stop(first)
        stop(second)
    assert not listening(port_of(url_one))
    assert not listening(port_of(url_two))


def test_a_port_someone_else_listens_on_is_never_taken_for_ours(scratch: Path) -> None:
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = other.getsockname()[1]
        done = subprocess.run(
            [SCRIPTS / "test-postgres", "start", str(scratch / "pg")],
            capture_output=True,
            text=True,
            env={**os.environ, "BRIDGE_TEST_PG_PORT": str(port)},
            timeout=60,
        )
    assert done.returncode != 0
    assert done.stdout == ""


def test_the_test_command_stops_its_server_at_the_end(scratch: Path) -> None:
    environ = {
        name: value for name, value in os.environ.items() if name != "BRIDGE_TEST_DATABASE_URL"
    }
    environ["TMPDIR"] = str(scratch / "tmp")
    (scratch / "tmp").mkdir(mode=0o755)
    probe = scratch / "test_url.py"
    probe.write_text(
        "import os\n\n\ndef test_url() -> None:\n"
        "    print('URL=' + os.environ['BRIDGE_TEST_DATABASE_URL'])\n"
    )
    done = subprocess.run(
        [SCRIPTS / "test", "-q", "-s", "-p", "no:cacheprovider", str(probe)],
        capture_output=True,
        text=True,
        env=environ,
        cwd=s.REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    [url] = [line[4:] for line in done.stdout.splitlines() if line.startswith("URL=")]
    assert not listening(port_of(url))
    assert list((scratch / "tmp").iterdir()) == []  # its data directory is gone with it
