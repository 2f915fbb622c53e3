"""What every vendor module provides: its wire format and how to read its answers.

A destination is pure: `requests` turns conversions into the exact HTTP requests to send and
`classify` turns an answer into a verdict per conversion. Sending, retries and bookkeeping live
in `bridge.delivery`, so `bridge try` can show a request without sending it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field

from bridge import __version__
from bridge.destinations.fields import VendorField
from bridge.destinations.verdicts import Verdict, classify_http
from bridge.vocabulary.model import Conversion
from bridge.vocabulary.secrets import Secret, shown_forms

DEFAULT_USER_AGENT = f"bridge/{__version__}"


@dataclass(frozen=True, slots=True)
class VendorRequest:
    """One HTTP request to a vendor, carrying the conversions at `items` of the batch."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    items: tuple[int, ...]
    shown_headers: Mapping[str, str] = field(default_factory=dict)
    """Replacements for secret-bearing headers when the request is displayed."""
    shown_url: str | None = None
    """The URL as displayed, when the real one carries a secret (an API key parameter)."""

    def redacted_headers(self) -> dict[str, str]:
        return {name: self.shown_headers.get(name, value) for name, value in self.headers.items()}

    def redacted_url(self) -> str:
        return self.shown_url or self.url


@dataclass(frozen=True, slots=True)
class VendorResponse:
    status: int
    headers: Mapping[str, str]
    body: bytes

    def text(self, limit: int = 500) -> str:
        """The vendor's answer, shortened for storage and display: any bytes a vendor sends
        come out as text every log and store keeps (invalid UTF-8 and NUL as U+FFFD)."""
        text = self.body.lstrip()[: limit * 4].decode("utf-8", errors="replace").strip()
        if "\x00" in text:
            text = text.replace("\x00", "\ufffd")
        return text if len(text) <= limit else text[:limit] + "..."


@dataclass(frozen=True, slots=True)
class Adjusted:
    """What `validate_field` answers when the vendor takes a field after all, changed, as a
    vendor's own client does (Convert's leaves out a segment it does not know): one optional
    detail never costs the whole conversion."""

    warning: str
    """Why the value changed; kept with the event (its rule's result) and shown by `check`."""
    value: Any
    """What is sent instead; None leaves the field out."""


class DestinationOptions(BaseModel):
    """Settings every destination shares; each vendor extends it with its own."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    vendor: str
    timeout_seconds: float = Field(10.0, gt=0, le=120)
    max_age_hours: float = Field(72.0, gt=0, le=24 * 30)


class Destination(ABC):
    vendor: ClassVar[str]
    options_model: ClassVar[type[DestinationOptions]]
    extra_fields: ClassVar[tuple[VendorField[Any], ...]] = ()
    """Conversion fields this vendor reads beyond the core (`bridge/destinations/fields.py`)."""

    def __init__(self, name: str, options: DestinationOptions) -> None:
        self.name = name
        self.options = options

    @property
    @abstractmethod
    def required_fields(self) -> frozenset[str]:
        """Conversion fields a rule must map for this vendor to credit anything."""

    @property
    @abstractmethod
    def secrets(self) -> list[Secret]:
        """Secret references this destination authenticates with."""

    @property
    @abstractmethod
    def max_batch(self) -> int:
        """Most conversions one `requests` call should be given."""

    def missing_secrets(self) -> list[str]:
        return [secret.env_var for secret in self.secrets if not secret.is_set]

    @property
    def ready(self) -> bool:
        """Deliveries to a destination whose secrets are unset wait instead of failing."""
        return not self.missing_secrets()

    @abstractmethod
    def requests(self, conversions: Sequence[Conversion]) -> list[VendorRequest]:
        """The exact requests that deliver `conversions` (at most `max_batch` of them)."""

    @property
    def checks_fields(self) -> bool:
        """Whether `validate_field` can refuse anything: rules skip asking those that cannot."""
        return type(self).validate_field is not Destination.validate_field

    def validate_field(self, field: str, value: Any) -> str | Adjusted | None:
        """Why this vendor cannot take `value` for `field`, or None; or what it takes instead
        (`Adjusted`, with the warning).

        Called when a rule builds a conversion (a value refused makes it `unmapped` for this
        vendor, so it is never sent wrong; an adjusted one is used in its place and the warning
        is in the rule's result) and by `bridge check` on constants written in a rule.
        """
        return None

    def unsendable(self, conversion: Conversion, now_ms: int) -> str | None:
        """Why sending `conversion` now would be pointless (it is marked dead instead), or None."""
        return None

    def classify(self, request: VendorRequest, response: VendorResponse) -> list[Verdict]:
        """A verdict per conversion carried by `request`; by default the HTTP status decides."""
        return [classify_http(response.status, response.headers, response.text())] * len(
            request.items
        )

    def redact(self, text: str) -> str:
        """`text` with this destination's secret values masked, for logs and stored answers:
        every form a secret takes in a URL, a JSON document or a header, not only its raw text."""
        for secret in self.secrets:
            for value in secret.values():
                for form in shown_forms(value):
                    text = text.replace(form, "***")
        return text


def shown_secret(secret: Secret) -> str:
    """How a secret appears in `bridge try` output: its reference, never its value."""
    suffix = "" if secret.is_set else " (not set)"
    return f"${{{secret.env_var}}}{suffix}"
