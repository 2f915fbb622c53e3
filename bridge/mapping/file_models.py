"""What a mapping file may hold, before any of it is compiled: its top-level sections and the
shape of a rule. Unknown keys are refused, so a misspelt section is an error, not ignored."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints, WithJsonSchema

from bridge.mapping.identity import IdentityModel

Name = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$")]
"""Source, destination and rule names: lower case, digits, `-` and `_` (they appear in URLs)."""


def _listify(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


def _one_or_many(item: dict[str, Any]) -> WithJsonSchema:
    """How editors see a field written as one value or a list of them."""
    return WithJsonSchema({"anyOf": [item, {"type": "array", "items": item}]})


_NAME_SCHEMA = {"type": "string", "pattern": r"^[a-z0-9][a-z0-9_-]{0,62}$"}


class FileModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    sources: dict[Name, dict[str, Any]] = {}
    destinations: dict[Name, dict[str, Any]] = {}
    rules: list[dict[str, Any]] = []
    ledgers: dict[Name, dict[str, Any]] = {}


class RuleModel(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: Name
    source: Name
    events: Annotated[list[str], BeforeValidator(_listify), _one_or_many({"type": "string"})] = []
    when: str | None = None
    destination: Annotated[list[Name], BeforeValidator(_listify), _one_or_many(_NAME_SCHEMA)]
    conversion: dict[str, Any]
    identity: IdentityModel | None = None
