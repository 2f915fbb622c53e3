"""A rule's `identity:` option: which ledger to read, by which key the webhook names a visitor.

`identity: {ledger: web, key: data.object.client_reference_id || data.object.customer}` makes
the ids that visitor's browser gave the ledger readable by the rule's entries as
`identity.<vendor>.<field>` (`identity.pagent.session_id`). Ids the payload carries itself are
preferred where the user writes so, with JMESPath's `||`
(`data.object.metadata.session_id || identity.pagent.session_id`): no precedence rule of its own.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import jmespath
from pydantic import BaseModel, ConfigDict, StringConstraints

from bridge.identity.config import LedgerConfig
from bridge.identity.vendors import BLOCKS
from bridge.mapping.expressions import (
    EvaluationError,
    Expression,
    ExpressionError,
    PathExpression,
    compile_expression,
)
from bridge.store.identities import KnownIdentity
from bridge.vocabulary.secrets import Secret

IDENTITY = "identity"
"""The top-level name the ids are read under, in the entries of a rule with `identity:`."""

_Text = Annotated[str, StringConstraints(min_length=1)]


class IdentityModel(BaseModel):
    """`identity:` as a mapping file writes it."""

    model_config = ConfigDict(extra="forbid")

    ledger: _Text
    key: _Text
    link: _Text | None = None


@dataclass(frozen=True, slots=True)
class IdentitySpec:
    """A rule's compiled `identity:`."""

    ledger: str
    key: Expression
    link: Expression | None = None
    pepper: Secret | None = None
    """The ledger's `email_pepper`, keyed into the hash of an email used as a key."""

    def key_of(self, payload: Any) -> str | None:
        """The key the payload names the visitor by; None when it names none."""
        return _key(self.key, payload, self.pepper)

    def link_of(self, payload: Any) -> str | None:
        """The key `link:` ties to the identity used (a Stripe customer); None without one."""
        return None if self.link is None else _key(self.link, payload, self.pepper)


KEY_LIMIT = 200
"""The longest key the ledger is searched by or links: a Payment Link's `client_reference_id`
is at most 200 characters, and Stripe's ids are far shorter."""


def email_key(address: str, pepper: Secret | None) -> str:
    """`email:<hex>`: the ledger's key for an email address, never the address itself (the
    address trimmed and lower-cased, hashed with sha256, or HMAC-SHA256 with the pepper)."""
    normalised = address.strip().lower().encode()
    secret = pepper.reveal() if pepper is not None else None
    if secret:
        return "email:" + hmac.new(secret.encode(), normalised, hashlib.sha256).hexdigest()
    return "email:" + hashlib.sha256(normalised).hexdigest()


def _key(expression: Expression, payload: Any, pepper: Secret | None = None) -> str | None:
    """A text or whole-number value as a ledger key; None for any other value, an empty one, a
    longer one than `KEY_LIMIT`, or one holding a control character (no store keeps a NUL). An
    email address (a value with `@`) is kept only as its hash (`email_key`)."""
    try:
        value = expression.search(payload)
    except EvaluationError:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    if isinstance(value, int) and value.bit_length() > 64:
        return None
    key = str(value)
    if not key or len(key) > KEY_LIMIT or not key.isprintable():
        return None
    return email_key(key, pepper) if "@" in key else key


def identity_view(identity: KnownIdentity | None) -> dict[str, Any]:
    """`{vendor: ids}` as the entries read it: plain dicts, which the compiled lookups need."""
    if identity is None:
        return {}
    return {vendor: dict(captured.ids) for vendor, captured in identity.vendors.items()}


def captured_times(identity: KnownIdentity) -> dict[str, int]:
    """When the browser gave each vendor's ids, for the conversion (`ids_captured_at`)."""
    return {vendor: captured.captured_at for vendor, captured in identity.vendors.items()}


def with_identity(payload: Any, identity: KnownIdentity | None) -> Any:
    """A shallow copy of the payload with `identity` set (a payload's own `identity` key is
    hidden from the rule: the ledger's ids are what the rule asked for)."""
    if not isinstance(payload, dict):
        return payload
    return {**payload, IDENTITY: identity_view(identity)}


def fields_reading_identity(conversion: Mapping[str, Any]) -> list[str]:
    """The `conversion:` fields whose entries read `identity.…`."""
    return [name for name, written in conversion.items() if any(identity_paths(written))]


def unreadable_paths(
    conversion: Mapping[str, Any], name: str, ledger: LedgerConfig
) -> Iterator[tuple[str, str]]:
    """Each `(field, why)` where an entry reads an `identity.…` path this ledger can never
    hold: that field would be missing on every event."""
    for field_name, written in conversion.items():
        for steps in identity_paths(written):
            problem = _path_problem(name, ledger, steps)
            if problem:
                yield field_name, problem


def _path_problem(name: str, ledger: LedgerConfig, steps: tuple[str, ...]) -> str | None:
    if not steps:
        return None
    path = ".".join((IDENTITY, *steps[:2]))
    vendor = steps[0]
    if vendor not in ledger.vendors:
        captured = ", ".join(ledger.vendors)
        return f"{path}: ledger {name!r} does not capture {vendor} (it captures {captured})"
    fields = BLOCKS[vendor]
    if len(steps) > 1 and steps[1] not in fields:
        return f"{path}: {vendor} gives no {steps[1]} (it gives {', '.join(fields)})"
    return None


def identity_paths(written: Any) -> Iterator[tuple[str, ...]]:
    """Every `identity.…` path a `conversion:` entry as written reads, as its steps after
    `identity` (an entry that does not compile reads none: its error is reported already)."""
    if isinstance(written, dict) and set(written) != {"const"}:
        for entry in written.values():
            yield from identity_paths(entry)
        return
    if not isinstance(written, str):
        return
    try:
        expression = compile_expression(written)
    except ExpressionError:
        return
    if isinstance(expression, PathExpression):
        steps = tuple(expression.text.split("."))
        if steps[0] == IDENTITY:
            yield steps[1:]
        return
    yield from _tree_paths(jmespath.compile(expression.text).parsed)


def _tree_paths(node: Any) -> Iterator[tuple[str, ...]]:
    if not isinstance(node, dict):
        return
    children = node.get("children", [])
    if node.get("type") == "field" and node.get("value") == IDENTITY:
        yield ()
        return
    if node.get("type") == "subexpression" and _is_identity(children[0] if children else None):
        steps = []
        for child in children[1:]:
            if child.get("type") != "field":
                break
            steps.append(str(child["value"]))
        yield tuple(steps)
        return
    for child in children:
        yield from _tree_paths(child)


def _is_identity(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "field" and node.get("value") == IDENTITY
