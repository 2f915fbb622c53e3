"""Every path a command is given answers in one `error:` line and a non-zero exit, never a
traceback, and names the path as an absolute one (the command may run anywhere)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bridge.cli import main

COMMANDS_WITH_MAPPINGS = [
    ["check"],
    ["try", "stripe", "-"],
    ["replay", "evt_a"],
    ["deliveries", "retry", "--status", "dead"],
]


def error_lines(capsys: pytest.CaptureFixture[str]) -> list[str]:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return [line for line in err.splitlines() if line.startswith("error:")]


@pytest.mark.parametrize("command", ["try", "send"])
def test_a_payload_file_that_does_not_exist_is_named(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main([command, "stripe", "missing.json"]) == 1
    assert error_lines(capsys) == [
        f"error: cannot read {tmp_path / 'missing.json'}: No such file or directory"
    ]


def test_try_names_a_payload_path_that_is_a_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples").mkdir()
    assert main(["try", "stripe", "samples"]) == 1
    assert error_lines(capsys) == [f"error: cannot read {tmp_path / 'samples'}: Is a directory"]


def a_file(folder: Path) -> None:
    (folder / "rules.yaml").write_text("rules: []\n")


@pytest.mark.parametrize("command", COMMANDS_WITH_MAPPINGS, ids=" ".join)
@pytest.mark.parametrize(
    ("given", "made", "problem"),
    [
        ("missing", lambda folder: None, "mappings directory not found"),
        ("rules.yaml", a_file, "not a directory (give the folder of mapping files)"),
    ],
    ids=["missing", "a file"],
)
def test_a_mappings_path_that_is_no_folder_is_named_by_its_absolute_path(
    command: list[str],
    given: str,
    made: Callable[[Path], None],
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    made(tmp_path)
    assert main([*command, "--mappings", given]) == 1
    assert error_lines(capsys) == [f"error: {tmp_path / given}: {problem}"]


def test_mapping_files_that_cannot_be_read_are_problems_not_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "mappings"
    folder.mkdir()
    (folder / "dangling.yaml").symlink_to(folder / "elsewhere.yaml")
    (folder / "ok.yaml").write_text("rules: []\n")
    (folder / "loop.yaml").symlink_to(folder / "loop.yaml")
    assert main(["check", "--mappings", str(folder)]) == 1
    assert error_lines(capsys) == [
        f"error: {folder / 'dangling.yaml'}: cannot read: No such file or directory",
        f"error: {folder / 'loop.yaml'}: cannot read: Too many levels of symbolic links",
    ]


def test_a_store_path_that_cannot_be_made_is_one_error_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "data").write_text("a file where the store's folder should be")
    monkeypatch.setenv("BRIDGE_DATABASE_URL", f"sqlite:///{tmp_path / 'data' / 'bridge.db'}")
    assert main(["migrate"]) == 1
    store = tmp_path / "data" / "bridge.db"
    assert error_lines(capsys) == [f"error: cannot prepare database {store}: File exists"]


@pytest.mark.parametrize(
    "command",
    [
        ["events", "list"],
        ["events", "show", "evt_a"],
        ["deliveries", "list"],
        ["deliveries", "retry", "--status", "dead"],
        ["deliveries", "purge", "--status", "dead", "--yes"],
        ["replay", "evt_a"],
    ],
    ids=" ".join,
)
def test_run_elsewhere_a_command_says_there_is_no_store_and_creates_none(
    command: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("BRIDGE_DATABASE_URL", "sqlite:///data/bridge.db")
    assert main(command) == 1
    assert error_lines(capsys) == [
        f"error: no store at {tmp_path / 'data' / 'bridge.db'}"
        " (BRIDGE_DATABASE_URL is sqlite:///data/bridge.db): run this where bridge keeps its"
        " store, or set BRIDGE_DATABASE_URL"
    ]
    assert list(tmp_path.iterdir()) == []
