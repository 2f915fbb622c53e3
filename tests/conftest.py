from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support import postgres
from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor


@pytest.fixture(scope="session")
def postgres_server() -> str:
    return postgres.server_url()


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A PostgreSQL database URL with an empty schema of its own."""
    with postgres.fresh_schema(postgres_server) as url:
        yield url


@pytest.fixture
def vendor() -> Iterator[LoopbackVendor]:
    server = LoopbackVendor().start()
    yield server
    server.stop()


@pytest.fixture
def bridge_process(tmp_path: Path, vendor: LoopbackVendor) -> Iterator[BridgeProcess]:
    """The shipped mappings served by a real `bridge serve`, delivering to the loopback vendor."""
    process = BridgeProcess(tmp_path, {"PAGENT_BASE_URL": vendor.url})
    yield process
    process.stop()
