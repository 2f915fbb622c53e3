"""A fixture file (`DIR/tests/*.yaml`): one payload sent through the mapping files, and what
each rule should make of it. A browser console will save these, so every key is named for what
it means and unknown keys are refused with file and line, like a mapping file's."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from bridge.mapping.errors import MappingError, MappingIssue, dotted, validation_problems
from bridge.mapping.file_models import Name
from bridge.mapping.yamlfile import YamlDocument, load_yaml

Outcome = Literal["converted", "skipped", "unmapped"]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Payload(Strict):
    """The webhook body: exactly one of `file`, `json` or `text`."""

    file: str | None = None
    """A sample file, relative to the fixture (`../../samples/stripe/invoice.paid.json`)."""
    json_body: dict[str, Any] | list[Any] | None = Field(None, alias="json")
    """The body inline, as YAML: sent as its JSON."""
    text: str | None = None
    """The body inline, as text (an XML body, or JSON exactly as a sender wrote it)."""

    @model_validator(mode="after")
    def _one_body(self) -> Payload:
        given = [name for name in ("file", "json", "text") if self._given(name)]
        if len(given) != 1:
            raise ValueError(f"give exactly one of file, json or text (given: {given or 'none'})")
        return self

    def _given(self, name: str) -> bool:
        return {"file": self.file, "json": self.json_body, "text": self.text}[name] is not None


class ExpectedRequest(Strict):
    """The request one destination would be sent: the whole body, or only some of its fields."""

    body: Any = None
    """The exact body (JSON as YAML; a body that is not JSON as its text)."""
    fields: dict[str, Any] | None = None
    """Only these parts of the body, by path (`events[0].revenue`); the rest may be anything."""

    @model_validator(mode="after")
    def _one_form(self) -> ExpectedRequest:
        if (self.body is None) == (self.fields is None):
            raise ValueError("give exactly one of body or fields")
        return self


class ExpectedRule(Strict):
    """What one rule makes of the event."""

    outcome: Outcome
    """converted, skipped (its `when:` is false) or unmapped (a value is missing or refused)."""
    reason: str | None = None
    """A part of the reason the outcome gives (`is false`, `transaction_id`); checked if given."""
    requests: dict[Name, ExpectedRequest] = {}
    """Per destination name, the request it would be sent (a converted rule only)."""


class ExpectedEvent(Strict):
    """One event the payload yields (most senders send one per payload)."""

    type: str | None = None
    """The event's type (`checkout.session.completed`); checked if given."""
    rules: dict[Name, ExpectedRule] = {}
    """Per rule name, every rule that applies to the event: none means no rule applies."""


class Fixture(Strict):
    """A fixture file."""

    description: str | None = None
    """What the fixture shows, in a sentence: shown nowhere, kept by `--update`."""
    mappings: list[str] | None = None
    """The mapping files to evaluate with, relative to the mappings directory; all of its
    `*.yaml` files when left out (a folder of examples names each example's own)."""
    source: Name
    """The source name, from the mapping files, that receives the payload."""
    payload: Payload
    headers: dict[str, str] = {}
    """Request headers a source reads besides its signature (Shopify's `X-Shopify-Topic`)."""
    expect: list[ExpectedEvent] = []
    """Per event the payload yields, in order: what its rules make of it."""


def load_fixture(path: Path, display_name: str) -> tuple[Fixture, YamlDocument]:
    """The fixture at `path`, or a `MappingError` naming each problem's file, line and key."""
    document = load_yaml(path, display_name=display_name)
    try:
        return Fixture.model_validate(document.data or {}), document
    except ValidationError as exc:
        issues = [
            MappingIssue(
                display_name,
                document.line_of(parts),
                dotted(parts),
                message.removeprefix("Value error, "),
            )
            for parts, message in validation_problems(exc, Fixture, {})
        ]
        raise MappingError(issues) from None
