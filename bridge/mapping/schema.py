"""The mapping files' JSON Schema, generated from the models that load them, for editors.

Editors that read YAML through a JSON Schema (yaml-language-server in VS Code, JetBrains IDEs)
complete and check a mapping file as it is typed; `bridge check` stays the judge (it also
knows what a schema cannot say: names across files, secrets, expressions). Each source and
destination entry is checked against its own kind's options, chosen by `kind:` or `vendor:`.
`python -m bridge.mapping.schema` prints it; `mappings/bridge.schema.json` is that output.
"""

from __future__ import annotations

from typing import Any

import orjson
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from bridge.destinations import VENDORS
from bridge.identity.config import LedgerConfig
from bridge.mapping.file_models import RuleModel
from bridge.sources import SOURCE_KINDS

SCHEMA_ID = "https://github.com/bridge/bridge/mappings/bridge.schema.json"


def mapping_schema() -> dict[str, Any]:
    """One mapping file: `sources`, `destinations`, `rules` and `ledgers`, each entry checked
    against the model that validates it."""
    sources = {kind: source.options_model for kind, source in sorted(SOURCE_KINDS.items())}
    vendors = {vendor: kind.options_model for vendor, kind in sorted(VENDORS.items())}
    models: list[type[BaseModel]] = [*sources.values(), *vendors.values(), RuleModel, LedgerConfig]
    refs, shared = models_json_schema([(model, "validation") for model in models])

    def ref(model: type[BaseModel]) -> dict[str, Any]:
        return refs[(model, "validation")]

    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "bridge mapping file",
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "sources": _named(_chosen_by("kind", {k: ref(m) for k, m in sources.items()})),
            "destinations": _named(_chosen_by("vendor", {k: ref(m) for k, m in vendors.items()})),
            "rules": {"type": "array", "items": ref(RuleModel)},
            "ledgers": _named(ref(LedgerConfig)),
        },
        "$defs": shared.get("$defs", {}),
    }


def _named(entry: dict[str, Any]) -> dict[str, Any]:
    """An object of entries by name (names as `bridge check` takes them)."""
    return {
        "type": "object",
        "propertyNames": {"pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"},
        "additionalProperties": entry,
    }


def _chosen_by(key: str, options: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """An entry checked against the options of the kind its `key` names."""
    return {
        "type": "object",
        "required": [key],
        "properties": {key: {"enum": sorted(options)}},
        "allOf": [
            {"if": {"properties": {key: {"const": name}}}, "then": schema}
            for name, schema in options.items()
        ],
    }


def main() -> None:
    print(
        orjson.dumps(mapping_schema(), option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode()
    )


if __name__ == "__main__":
    main()
