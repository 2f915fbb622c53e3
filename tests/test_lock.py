"""The lock files pin, with hashes, every dependency pyproject.toml names, and every install
(scripts, image) goes through them."""

from __future__ import annotations

import re
import tomllib

import pytest

from tests.support.stripe import REPO

PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def pins(lock: str) -> dict[str, str]:
    """name -> version for every `name==version` entry, each of which must carry hashes."""
    text = (REPO / lock).read_text()
    entries = re.findall(
        r"^([A-Za-z0-9_.-]+)==(\S+) \\\n((?:    --hash=sha256:[0-9a-f]{64}.*\n)+)", text, re.M
    )
    found = {_normal(name): version for name, version, _ in entries}
    listed = re.findall(r"^([A-Za-z0-9_.-]+)==", text, re.M)
    assert len(found) == len(listed), f"{lock}: an entry without hashes"
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _names(requirements: list[str]) -> set[str]:
    return {
        _normal(re.split(r"[\s\[<>=!~;]", requirement, maxsplit=1)[0])
        for requirement in requirements
    }


def test_the_runtime_lock_pins_every_runtime_dependency() -> None:
    missing = _names(PYPROJECT["project"]["dependencies"]) - set(pins("requirements.lock"))
    assert not missing, f"run scripts/lock: {sorted(missing)} not pinned"


@pytest.mark.parametrize("extra", ["test", "bench"])
def test_the_dev_lock_pins_every_tool(extra: str) -> None:
    wanted = _names(PYPROJECT["project"]["optional-dependencies"][extra])
    missing = wanted - set(pins("requirements-dev.lock"))
    assert not missing, f"run scripts/lock: {sorted(missing)} not pinned"


def test_both_locks_agree_on_every_runtime_version() -> None:
    runtime, dev = pins("requirements.lock"), pins("requirements-dev.lock")
    assert {name: dev.get(name) for name in runtime} == runtime


def test_scripts_and_the_image_install_from_the_locks_with_hashes() -> None:
    assert '--require-hashes -r "$lock"' in (REPO / "scripts" / "_venv").read_text()
    dockerfile = (REPO / "Dockerfile").read_text()
    assert "--require-hashes --requirement requirements.lock" in dockerfile
    assert "requirements.txt" not in dockerfile


def test_the_images_default_base_is_pinned_by_digest() -> None:
    dockerfile = (REPO / "Dockerfile").read_text()
    default = re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile, re.M)
    assert default is not None
    assert re.fullmatch(r"[\w.:/-]+@sha256:[0-9a-f]{64}", default.group(1)), default.group(1)


def test_the_build_script_says_how_to_move_both_pins() -> None:
    script = (REPO / "scripts" / "build-image").read_text()
    assert "skopeo inspect" in script
    assert "scripts/lock --upgrade" in script
