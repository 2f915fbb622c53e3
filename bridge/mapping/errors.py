"""Problems found in mapping files, each pinned to a file, a line and a field."""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

from pydantic import BaseModel, ValidationError


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


def validation_problems(
    error: ValidationError, model: type[BaseModel], environ: Mapping[str, str]
) -> Iterator[tuple[tuple[str | int, ...], str]]:
    """Each `(path, message)` in pydantic's answer, said so a person can act on it: an unknown
    key lists the allowed ones, an unset variable names a set one it is close to."""
    for detail in error.errors(include_url=False):
        parts = tuple(part for part in detail["loc"] if isinstance(part, str | int))
        message = detail["msg"]
        if detail["type"] == "extra_forbidden":
            allowed = allowed_keys(model, parts[:-1])
            if allowed is not None:
                message = f"unknown key (allowed: {', '.join(allowed)})"
        elif detail["type"] == "unset_variable":
            message += did_you_mean(str(detail.get("ctx", {}).get("name", "")), environ)
        yield parts, message


def did_you_mean(var: str, environ: Mapping[str, str]) -> str:
    """` (did you mean PAGENT_API_KEY? it is set)` for a name a set variable is close to."""
    named = {name.upper(): name for name, value in environ.items() if value}
    close = difflib.get_close_matches(var.upper(), list(named), n=1, cutoff=0.8)
    return f" (did you mean {named[close[0]]}? it is set)" if close else ""
