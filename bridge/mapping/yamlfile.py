"""Safe YAML loading that remembers the line of every key, so errors can point at it.

PyYAML's node tree carries positions; we build the data with the safe constructor and, from the
same tree, an index from each path (`("rules", 0, "when")`) to its line. Duplicate keys, which
YAML silently lets the last one win, are reported instead.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bridge.mapping.errors import MappingError, MappingIssue

Location = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class YamlDocument:
    path: Path
    data: Any
    lines: dict[Location, int]
    version: str
    """First 12 hex digits of the file's sha256: which edit of the file built a conversion."""

    def line_of(self, location: Sequence[str | int]) -> int | None:
        """Line of the deepest known part of `location` (1-based)."""
        parts = tuple(location)
        while parts:
            if parts in self.lines:
                return self.lines[parts]
            parts = parts[:-1]
        return self.lines.get((), None)


def load_yaml(path: Path, *, display_name: str | None = None) -> YamlDocument:
    name = display_name or str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise MappingError([MappingIssue(name, None, "", f"cannot read: {exc.strerror}")]) from None
    loader = yaml.SafeLoader(raw.decode("utf-8", errors="replace"))
    lines: dict[Location, int] = {}
    issues: list[MappingIssue] = []
    try:
        node = loader.get_single_node()
        if node is not None:
            # Index before constructing: construction flattens merge keys (<<) in place.
            _index(node, (), lines, issues, name)
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise MappingError([MappingIssue(name, line, "", f"invalid YAML: {exc.problem}")]) from None
    finally:
        loader.dispose()
    if issues:
        raise MappingError(issues)
    return YamlDocument(path, data, lines, hashlib.sha256(raw).hexdigest()[:12])


def _index(
    node: yaml.Node,
    location: Location,
    lines: dict[Location, int],
    issues: list[MappingIssue],
    name: str,
) -> None:
    lines[location] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = str(key_node.value)
            if key in seen:
                issues.append(
                    MappingIssue(name, key_node.start_mark.line + 1, key, "duplicate key")
                )
            seen.add(key)
            _index(value_node, (*location, key), lines, issues, name)
            lines[(*location, key)] = key_node.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _index(item, (*location, index), lines, issues, name)


def files_version(files: Mapping[str, str]) -> str:
    """One version for a set of files (name -> version): first 12 hex digits of a sha256 over
    them in name order, so the same files give the same version on every replica."""
    text = "\n".join(f"{Path(name).name}:{version}" for name, version in sorted(files.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:12]
