"""Every sender page's "Start from the example" commands, run as written on a fresh copy of
`mappings/`: the source is known and the sample converts."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from bridge.sources import SOURCE_KINDS
from tests.support.stripe import REPO

DOCS = REPO / "docs"
SENDER_PAGES = sorted(
    DOCS / f"{kind}.md"
    for kind in SOURCE_KINDS
    if kind != "stripe"  # Stripe's files are in mappings/ already
)


def start_block(page: Path) -> str:
    match = re.search(r"## Start from the example\n.*?```sh\n(.*?)```", page.read_text(), re.S)
    assert match, f"{page.name} has no 'Start from the example' section with commands"
    return match.group(1)


@pytest.mark.parametrize("page", SENDER_PAGES, ids=lambda page: page.stem)
def test_the_page_commands_make_its_source_known(page: Path, tmp_path: Path) -> None:
    shutil.copytree(REPO / "mappings", tmp_path / "mappings")
    environ = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("BRIDGE_") and not name.endswith(("_SECRET", "_KEY", "_TOKEN"))
    }
    environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{environ.get('PATH', '')}"
    environ["BRIDGE_DATABASE_URL"] = f"sqlite:///{tmp_path / 'bridge.db'}"
    done = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", start_block(page)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=environ,
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "unknown source" not in done.stdout + done.stderr
    assert ": converted" in done.stdout
