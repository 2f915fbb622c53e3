"""The version is written once (bridge/__init__.py); every artifact that shows it agrees."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from importlib.metadata import version
from pathlib import Path

import yaml

import bridge

REPO = Path(__file__).resolve().parents[1]


def test_the_package_takes_its_version_from_the_code() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    assert "version" not in project
    assert "version" in project["dynamic"]
    assert version("bridge") == bridge.__version__


def test_the_chart_deploys_the_version_of_the_code() -> None:
    chart = yaml.safe_load((REPO / "helm/bridge/Chart.yaml").read_text())
    assert chart["appVersion"] == bridge.__version__


def test_bridge_version_prints_it() -> None:
    printed = subprocess.run(
        [sys.executable, "-m", "bridge", "--version"], capture_output=True, text=True, check=True
    ).stdout
    assert bridge.__version__ in printed
