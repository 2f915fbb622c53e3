"""`${ENV_VAR}` references: how mapping files name secrets without containing them.

A `Secret` field accepts only a reference, so a key pasted inline is an error at load time,
not a leak in git. Plain settings may interpolate `${VAR}` or `${VAR:-default}` (`EnvStr`).
A secret whose variable is unset is not an error: the source or destination reports itself
as waiting for it, and nothing is dropped.
"""

from __future__ import annotations

import base64
import functools
import os
import re
from collections.abc import Mapping
from typing import Annotated, Any
from urllib.parse import quote, quote_plus

import orjson
from pydantic import (
    BeforeValidator,
    GetCoreSchemaHandler,
    GetJsonSchemaHandler,
    ValidationInfo,
    WithJsonSchema,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import PydanticCustomError, core_schema

_REFERENCE = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")
_INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def environ_from(info: ValidationInfo) -> Mapping[str, str]:
    """The environment a mapping file is resolved against (tests pass their own)."""
    context = info.context or {}
    environ: Mapping[str, str] = context.get("environ", os.environ)
    return environ


ROTATION_PREFIX = "whsec_"
"""Secrets of this form (Stripe's, Standard Webhooks') never hold a comma, so a variable whose
every comma-separated part has it holds a rotation: `whsec_new,whsec_old`."""


class Secret:
    """A secret read from the environment variable a mapping file names; never printed.

    The variable holds one secret exactly as written, commas included (a WooCommerce secret or
    a password may contain one). Rotation lists several references (`[${NEW}, ${OLD}]`), or,
    for `whsec_` secrets only, several comma-separated values in one variable.
    """

    __slots__ = ("_value", "_values", "env_var")

    def __init__(self, env_var: str, value: str | None) -> None:
        self.env_var = env_var
        self._value = value if value and value.strip() else None
        self._values = _values_of(self._value)

    @property
    def is_set(self) -> bool:
        return self._value is not None

    def values(self) -> tuple[str, ...]:
        """Each secret the variable holds (one, or a `whsec_` rotation), worked out once: a
        webhook's check asks for them every time."""
        return self._values

    @property
    def rotating(self) -> bool:
        """Whether the variable holds more than one secret (a rotation in progress)."""
        return len(self._values) > 1

    def reveal(self) -> str | None:
        """The raw value, for the one place that must send or check it."""
        return self._value

    def __repr__(self) -> str:
        state = "set" if self.is_set else "not set"
        return f"Secret(${{{self.env_var}}}, {state})"

    __str__ = __repr__

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source_type: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        return core_schema.with_info_plain_validator_function(cls._validate)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        """How editors see a secret field: a `${VARIABLE}` reference, never a value."""
        return REFERENCE_SCHEMA

    @classmethod
    def _validate(cls, value: Any, info: ValidationInfo) -> Secret:
        if isinstance(value, Secret):
            return value
        match = _REFERENCE.match(value.strip()) if isinstance(value, str) else None
        if match is None:
            raise PydanticCustomError(
                "inline_secret",
                "secrets must be written as an environment reference like"
                " ${STRIPE_WEBHOOK_SECRET}, never inline",
            )
        name = match.group(1)
        return cls(name, environ_from(info).get(name))


def _values_of(value: str | None) -> tuple[str, ...]:
    if value is None:
        return ()
    parts = [part.strip() for part in value.split(",") if part.strip()]
    if all(part.startswith(ROTATION_PREFIX) for part in parts):
        return tuple(parts)
    return (value.strip(),)


@functools.cache
def shown_forms(value: str) -> tuple[str, ...]:
    """The ways `value` can appear in text a vendor or a library writes: as is, percent-encoded
    (as in a URL's query: `?apikey=cdx%2BKEY`, with either case of hex digits), JSON-escaped,
    and base64-encoded. Longest first, so a redaction replaces a whole form, not a piece."""
    forms = {
        value,
        quote(value, safe=""),
        quote_plus(value, safe=""),
        quote(value),
        orjson.dumps(value).decode()[1:-1],
        base64.b64encode(value.encode()).decode(),
        base64.urlsafe_b64encode(value.encode()).decode(),
    }
    forms |= {form.rstrip("=") for form in forms}
    forms |= {_PERCENT_HEX.sub(lambda escape: escape.group().lower(), form) for form in forms}
    return tuple(sorted((form for form in forms if form), key=len, reverse=True))


_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


def _interpolate(value: Any, info: ValidationInfo) -> Any:
    if not isinstance(value, str):
        return value
    environ = environ_from(info)

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = environ.get(name)
        if found:
            return found
        if default is not None:
            return default
        raise PydanticCustomError(
            "unset_variable",
            # pydantic fills in `{name}` as is and leaves every other brace alone
            "environment variable {name} is not set and has no default (write ${{name}:-value})",
            {"name": name},
        )

    return _INTERPOLATION.sub(substitute, value)


EnvStr = Annotated[str, BeforeValidator(_interpolate)]
"""A plain (non-secret) string setting that may use `${VAR}` or `${VAR:-default}`."""


def _one_or_many(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


REFERENCE_SCHEMA: JsonSchemaValue = {
    "type": "string",
    "pattern": _REFERENCE.pattern,
    "description": "an environment reference such as ${STRIPE_WEBHOOK_SECRET}",
}

SecretList = Annotated[
    list[Secret],
    BeforeValidator(_one_or_many),
    WithJsonSchema({"anyOf": [REFERENCE_SCHEMA, {"type": "array", "items": REFERENCE_SCHEMA}]}),
]
"""One `${VAR}` reference or a list of them."""
