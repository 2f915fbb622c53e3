from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.process import BridgeProcess
from tests.support.vendor import LoopbackVendor


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
