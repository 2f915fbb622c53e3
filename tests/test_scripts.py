"""The test scripts start a PostgreSQL server of their own and leave nothing running."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import stripe as s

SCRIPTS = s.REPO / "scripts"
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not list(Path("/usr/lib/postgresql").glob("*/bin/postgres")),
        reason="PostgreSQL server binaries are not installed",
    ),
]


@pytest.fixture
def scratch() -> Iterator[Path]:
    """A directory the server's own user can enter (pytest's are private to their owner)."""
    folder = Path(tempfile.mkdtemp(prefix="bridge-scripts-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def start(data: Path) -> str:
    done = subprocess.run(
        [SCRIPTS / "test-postgres", "start", str(data)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return done.stdout.strip()


def stop(data: Path) -> None:
    subprocess.run([SCRIPTS / "test-postgres", "stop", str(data)], check=True, timeout=60)


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].split("/", 1)[0])


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
