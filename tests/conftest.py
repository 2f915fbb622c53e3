from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from bridge.runtime.settings import Settings
from bridge.web.app import BridgeApp, create_app
from tests.support import postgres
from tests.support import stripe as s
from tests.support.app import serving
from tests.support.mappings import ENVIRON
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


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    for name, value in ENVIRON.items():
        monkeypatch.setenv(name, value)
    return Settings(
        database_url=f"sqlite:///{tmp_path / 'b.db'}",
        mappings_dir=s.REPO / "mappings",
        max_body_bytes=4096,
    )


@pytest.fixture
async def app(settings: Settings) -> BridgeApp:
    return create_app(settings, run_worker=False)


@pytest.fixture
async def client(app: BridgeApp) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(app) as client:
        yield client
