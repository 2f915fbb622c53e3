"""`bridge test [DIR]`: every fixture in `DIR/tests/` sent through the mapping files as
`bridge try` would (no store, no network, no signature), and compared with its expectations."""

from __future__ import annotations

import argparse
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from bridge.cli.fixture_report import actual_document, diff, expected_document, rewritten
from bridge.cli.mappings import trial
from bridge.mapping.config import load_config
from bridge.mapping.errors import MappingError, MappingIssue
from bridge.mapping.fixture_file import Fixture, load_fixture
from bridge.mapping.loaded import Config
from bridge.mapping.yamlfile import YamlDocument
from bridge.runtime.settings import Settings
from bridge.sources import SourceError

if TYPE_CHECKING:
    from bridge.cli.common import Commands


def add_commands(commands: Commands) -> None:
    test = commands.add_parser(
        "test", help="check the fixtures in DIR/tests/ against what the mappings make of them"
    )
    test.add_argument(
        "directory", nargs="?", type=Path, help="mappings directory (BRIDGE_MAPPINGS_DIR)"
    )
    test.add_argument(
        "--update", action="store_true", help="write the current output as each expectation"
    )
    test.set_defaults(run=_test)


@dataclass
class Configs:
    """The mapping configurations the fixtures of one directory name, each loaded once."""

    directory: Path
    loaded: dict[tuple[str, ...] | None, Config | MappingError] = field(default_factory=dict)
    """Each configuration, or why it cannot load (said for every fixture that names it)."""

    def get(self, files: list[str] | None) -> Config:
        key = None if files is None else tuple(files)
        if key not in self.loaded:
            try:
                self.loaded[key] = self._load(files)
            except MappingError as exc:
                self.loaded[key] = exc
        found = self.loaded[key]
        if isinstance(found, MappingError):
            raise found
        return found

    def _load(self, files: list[str] | None) -> Config:
        if files is None:
            return load_config(self.directory)
        with tempfile.TemporaryDirectory(prefix="bridge-test-") as folder:
            named: dict[str, str] = {}
            for number, name in enumerate(files):
                path = (self.directory / name).absolute()
                link = Path(folder) / f"{number:03d}-{path.name}"
                link.symlink_to(path)
                named[str(link)] = str(self.directory / name)
            try:
                return load_config(Path(folder))
            except MappingError as exc:
                raise MappingError([_renamed(issue, named) for issue in exc.issues]) from None


def _renamed(issue: MappingIssue, named: dict[str, str]) -> MappingIssue:
    """The issue with the real file's name in place of its link in the temporary folder."""
    return MappingIssue(named.get(issue.file, issue.file), issue.line, issue.field, issue.message)


class FixtureFailed(Exception):
    """A fixture that cannot be run: the message is the `error:` line(s) to print, one per
    problem."""


def _test(args: argparse.Namespace, settings: Settings) -> int:
    directory: Path = args.directory or settings.mappings_dir
    folder = directory / "tests"
    paths = sorted(folder.glob("*.yaml")) + sorted(folder.glob("*.yml"))
    if not paths:
        print(f"error: no fixtures in {folder} (write them as tests/*.yaml)", file=sys.stderr)
        return 1
    configs = Configs(directory)
    failed = updated = 0
    for path in paths:
        try:
            lines, change = _run(path, configs, update=args.update)
        except FixtureFailed as exc:
            print(f"FAIL {path}")
            print(f"error: {exc}")
            failed += 1
            continue
        if change is not None:
            path.write_text(change)
            print(f"updated {path}")
            updated += 1
        elif lines:
            print(f"FAIL {path}")
            print("\n".join(lines))
            failed += 1
        else:
            print(f"ok   {path}")
    counted = f"{len(paths)} fixture{'' if len(paths) == 1 else 's'}"
    summary = f"{counted}: {len(paths) - failed - updated} passed, {failed} failed"
    print(summary + (f", {updated} updated" if updated else ""))
    return 1 if failed else 0


def _run(path: Path, configs: Configs, *, update: bool) -> tuple[list[str], str | None]:
    """The diff of a fixture's expectations and its actual outcome, and with `update` the
    fixture's new text when they differ."""
    try:
        fixture, document = load_fixture(path, str(path))
        _check_files(fixture, configs.directory, path, document)
        config = configs.get(fixture.mappings)
    except MappingError as exc:
        raise FixtureFailed("\nerror: ".join(str(issue) for issue in exc.issues)) from None
    report = _report(config, fixture, path, document)
    expected, actual = expected_document(fixture), actual_document(report, fixture)
    lines = diff(expected, actual)
    if update and lines:
        return [], rewritten(path.read_text(), document, actual)
    return lines, None


def _check_files(fixture: Fixture, directory: Path, path: Path, document: YamlDocument) -> None:
    """Refuse a fixture that names a mapping file that is not there, at the line naming it."""
    for index, name in enumerate(fixture.mappings or ()):
        if not (directory / name).is_file():
            line = document.line_of(("mappings", index))
            missing = f"no mapping file {directory / name}"
            raise FixtureFailed(f"{path}:{line}: mappings[{index}]: {missing}")


def _report(
    config: Config, fixture: Fixture, path: Path, document: YamlDocument
) -> list[dict[str, Any]]:
    source = config.sources.get(fixture.source)
    if source is None:
        known = ", ".join(sorted(config.sources))
        line = document.line_of(("source",))
        raise FixtureFailed(f"{path}:{line}: source: unknown source {fixture.source!r} ({known})")
    try:
        events = source.parse_received(_body(fixture, path, document), fixture.headers)
    except SourceError as exc:
        raise FixtureFailed(f"{path}: payload: {exc}") from None
    return [trial(config, event, {}) for event in events]


def _body(fixture: Fixture, path: Path, document: YamlDocument) -> bytes:
    payload = fixture.payload
    if payload.text is not None:
        return payload.text.encode()
    if payload.json_body is not None:
        return orjson.dumps(payload.json_body)
    sample = path.parent / str(payload.file)
    try:
        return sample.read_bytes()
    except OSError as exc:
        line = document.line_of(("payload", "file"))
        problem = f"cannot read {sample}: {exc.strerror or exc}"
        raise FixtureFailed(f"{path}:{line}: payload.file: {problem}") from None
