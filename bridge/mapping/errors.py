"""Problems found in mapping files, each pinned to a file, a line and a field."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel


@dataclass(frozen=True, slots=True)
class MappingIssue:
    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class MappingError(Exception):
    """Mapping files that cannot be loaded; `issues` holds every problem found, not the first."""

    def __init__(self, issues: Sequence[MappingIssue]) -> None:
        self.issues = list(issues)
        super().__init__("\n".join(str(issue) for issue in self.issues))


def dotted(location: Sequence[str | int]) -> str:
    """`("rules", 0, "conversion", "session_id")` -> `rules[0].conversion.session_id`."""
    text = ""
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def allowed_keys(model: type[BaseModel], path: Sequence[str | int]) -> list[str] | None:
    """The keys the model at `path` inside `model` accepts, when they can be told."""
    current: type[BaseModel] | None = model
    for part in path:
        annotation = _keys(current).get(str(part)) if current is not None else None
        current = _model_in(annotation)
    return sorted(_keys(current)) if current is not None else None


def _keys(model: type[BaseModel]) -> dict[str, Any]:
    return {info.alias or name: info.annotation for name, info in model.model_fields.items()}


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The one model an annotation (`Model`, `Model | None`) holds, if it holds one."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    models = {found for arg in get_args(annotation) if (found := _model_in(arg)) is not None}
    return models.pop() if len(models) == 1 else None
