"""Mapping files changed while bridge runs: noticed, then loaded and swapped in.

The directory is read every `BRIDGE_MAPPINGS_RELOAD_SECONDS` and its files hashed (contents,
not times: a Kubernetes ConfigMap volume swaps a symlink, and an editor may keep the time).
A change is applied once two reads in a row agree, so a half-written file or a copy of several
files is not loaded in the middle. SIGHUP reloads at once (`bridge/web/app.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bridge.runtime.service import Bridge

log = logging.getLogger("bridge")

MAPPING_SUFFIXES = (".yaml", ".yml")


def fingerprint(directory: Path) -> str:
    """A hash of every mapping file's name and bytes; empty when the directory cannot be read."""
    digest = hashlib.sha256()
    try:
        paths = sorted(p for p in directory.iterdir() if p.suffix in MAPPING_SUFFIXES)
        for path in paths:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:
        return ""
    return digest.hexdigest()


class MappingWatcher:
    """Reloads the bridge's mapping files when the directory's contents settle on a change."""

    def __init__(self, bridge: Bridge, interval_seconds: float) -> None:
        self._bridge = bridge
        self._interval = interval_seconds
        self._directory = bridge.settings.mappings_dir

    async def run(self) -> None:
        applied = await asyncio.to_thread(fingerprint, self._directory)
        seen = applied
        while True:
            await asyncio.sleep(self._interval)
            current = await asyncio.to_thread(fingerprint, self._directory)
            if current != applied and current == seen:
                await self._bridge.reload("files changed")
                applied = current  # a refused edit is not tried again until the files change
            seen = current
