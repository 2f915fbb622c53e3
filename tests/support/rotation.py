"""Sources built the way a rotation is written: one `${VAR}` reference per secret."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from bridge.sources import Source

S = TypeVar("S", bound=Source)


def rotating(
    kind: type[S], options: dict[str, Any], values: Sequence[str], *, field: str = "secret"
) -> S:
    """A `kind` source whose `field` lists a reference per value: `[${NEW}, ${OLD}]`."""
    environ = {f"ROTATION_{number}": value for number, value in enumerate(values)}
    listed = {**options, field: [f"${{{name}}}" for name in environ]}
    validated = kind.options_model.model_validate(listed, context={"environ": environ})
    return kind(str(options["kind"]), validated)
