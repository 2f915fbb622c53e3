"""What loading the mapping files gives: one validated `Config` (`config.py` loads it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from bridge.destinations import Destination
from bridge.identity.config import LedgerConfig
from bridge.mapping.rules import RuleSet
from bridge.mapping.yamlfile import files_version
from bridge.sources import Source


@dataclass
class Config:
    directory: Path
    sources: dict[str, Source]
    destinations: dict[str, Destination]
    rules: RuleSet
    files: dict[str, str]
    """File name -> version (sha256 prefix of its bytes)."""
    origins: dict[str, str] = field(default_factory=dict)
    """`source:NAME`, `destination:NAME`, `rule:NAME`, `ledger:NAME` -> `file:line` where it is
    defined."""
    ledgers: dict[str, LedgerConfig] = field(default_factory=dict)
    """Identity ledgers by name: the browser beacons `POST /identify/{name}` takes."""
    notes: list[str] = field(default_factory=list)
    """What a running service would be waiting for or silently not doing, found at load."""

    @cached_property
    def version(self) -> str:
        """The files' versions as one: what a stored event was judged by."""
        return files_version(self.files)

    def warnings(self) -> list[str]:
        """What a running service would be waiting for or silently not doing."""
        return list(self.notes)
