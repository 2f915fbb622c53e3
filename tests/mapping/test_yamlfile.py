from pathlib import Path

import pytest

from bridge.mapping.errors import MappingError
from bridge.mapping.yamlfile import load_yaml

TEXT = """\
sources:
  stripe:
    kind: stripe
rules:
  - name: a
    conversion:
      session_id: x.y
"""


def test_every_key_knows_its_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(TEXT)
    document = load_yaml(path)
    assert document.line_of(("sources", "stripe", "kind")) == 3
    assert document.line_of(("rules", 0, "conversion", "session_id")) == 7
    assert document.line_of(("rules", 0, "conversion", "not_there")) == 6


def test_duplicate_keys_are_errors_not_silently_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("rules:\n  - name: a\n    name: b\n")
    with pytest.raises(MappingError, match=r"m.yaml:3: name: duplicate key"):
        load_yaml(path)


def test_invalid_yaml_names_its_line(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("sources:\n  stripe: [unclosed\n")
    with pytest.raises(MappingError, match=r"m.yaml:\d+: invalid YAML"):
        load_yaml(path)


def test_version_changes_when_the_file_changes(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(TEXT)
    before = load_yaml(path).version
    path.write_text(TEXT + "# edited\n")
    assert load_yaml(path).version != before


def test_yaml_cannot_construct_python_objects(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("x: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(MappingError, match="invalid YAML"):
        load_yaml(path)
