"""Mapping directories written from text, for tests that need a particular configuration."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from textwrap import dedent

import yaml

from bridge.mapping import Config, load_config

REPO = Path(__file__).resolve().parents[2]

ENVIRON = {
    "STRIPE_WEBHOOK_SECRET": "whsec_test_b2f1c0d9e8a7f6e5d4c3b2a1",
    "PAGENT_API_KEY": "pk_test",
}

SOURCE = """
sources:
  stripe:
    kind: stripe
    secret: ${STRIPE_WEBHOOK_SECRET}
"""

GOAL_RULE = """
rules:
  - name: paid
    source: stripe
    events: [checkout.session.completed]
    destination: pagent
    conversion:
      session_id: data.object.client_reference_id
      user_id: {const: u-1}
      goal_id: {const: %s}
"""
"""A checkout rule whose goal is the constant filled in: an edit of it shows in what pagent gets."""

PAGENT = """
destinations:
  pagent:
    vendor: pagent
    base_url: ${PAGENT_BASE_URL:-http://127.0.0.1:9}
    api_key: ${PAGENT_API_KEY}
"""


def write_mappings(directory: Path, **files: str) -> Path:
    """`write_mappings(tmp, rules="...")` writes `rules.yaml` (etc.) into `directory/mappings`."""
    folder = directory / "mappings"
    folder.mkdir(exist_ok=True)
    for name, text in files.items():
        (folder / f"{name.removesuffix('_yaml')}.yaml").write_text(dedent(text))
    return folder


def config_with_rules(directory: Path, rules: str, environ: dict[str, str] | None = None) -> Config:
    """Source `stripe`, destination `pagent`, and the given `rules:` block."""
    folder = write_mappings(directory, source=SOURCE, pagent=PAGENT, rules=rules)
    return load_config(folder, ENVIRON if environ is None else environ)


def destination_file(example: Path) -> Path:
    """The vendor file a `<sender>-to-<vendor>.yaml` example goes with: the shipped one, or the
    example's own beside it."""
    vendor = example.stem.rpartition("-to-")[2]
    shipped = REPO / "mappings" / f"{vendor}.yaml"
    return shipped if shipped.exists() else example.with_name(f"{vendor}.yaml")


def example_config(directory: Path, example: Path) -> Config:
    """An example mapping loaded as a user would deploy it: with its vendor file, the shipped
    Stripe source for the Stripe examples, and a value for every `${VARIABLE}` they name."""
    folder = directory / "mappings"
    folder.mkdir()
    files = [example, destination_file(example)]
    if _reads_shipped_stripe(example):
        files.append(REPO / "mappings" / "stripe.yaml")
    for file in files:
        shutil.copy(file, folder)
    text = "".join(file.read_text() for file in files)
    names = re.findall(r"\$\{([A-Z0-9_]+)(?::-[^}]*)?\}", text)
    return load_config(folder, {name: _example_value(name) for name in names})


def _reads_shipped_stripe(example: Path) -> bool:
    """Whether a rule of the example reads the `stripe` source of `mappings/stripe.yaml`."""
    rules = yaml.safe_load(example.read_text()).get("rules") or []
    return any(rule.get("source") == "stripe" for rule in rules)


def _example_value(variable: str) -> str:
    """What a user would set: an address for `..._URL`, a secret-looking text otherwise."""
    return "https://bridge.example.com" if variable.endswith("_URL") else "ab" * 16
