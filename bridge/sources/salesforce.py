"""Salesforce outbound messages: SOAP 1.1 notifications, checked by organization, answered `Ack`.

Outbound messages are not signed (Salesforce API guide, "Outbound Messaging Security"): what
identifies the sender is the `OrganizationId` every message carries, which must be on the
`organization_ids` allow-list (else 401), plus TLS to a URL Salesforce validates, and a shared
token in the endpoint URL's query string (compared in constant time before the body is read).
The organization id alone is no secret (it sits in every Web-to-Lead form), so a source without
a token must say so (`allow_without_token: true`). IP allow-lists or Salesforce's client
certificate belong to the ingress.

The XML is parsed with defusedxml with DTDs refused outright, so no entity is ever expanded and
nothing external is fetched. A message holds up to 100 `<Notification>`s; each is its own
event, deduplicated on its `<Id>`: Salesforce retries a message until it is acknowledged, for up
to 24 hours, and may deliver one more than once. The event type is the sObject type
(`Opportunity`) unless `event_type` says otherwise; the payload is the sObject's fields with
namespace prefixes dropped, values as Salesforce wrote them (text) and nil fields as null.
Every answer is a SOAP envelope: `<Ack>true</Ack>` for anything stored (duplicates included),
a SOAP fault otherwise, so Salesforce retries exactly what was not stored.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self
from urllib.parse import parse_qs, urlsplit
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

import orjson
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring
from pydantic import Field, field_validator, model_validator

from bridge.sources import signing
from bridge.sources.base import (
    InboundRequest,
    MalformedPayload,
    SignedRequest,
    Source,
    SourceOptions,
    VerificationFailed,
)
from bridge.utilities.nesting import TOO_DEEP, tree_too_deep
from bridge.utilities.safe_text import clipped
from bridge.utilities.times import sender_time
from bridge.vocabulary.model import Event
from bridge.vocabulary.secrets import Secret, SecretList

OUTBOUND = "{http://soap.sforce.com/2005/09/outbound}"
XSI = "{http://www.w3.org/2001/XMLSchema-instance}"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
ORGANIZATION_ID = re.compile(r"00D[0-9A-Za-z]{12}(?:[0-9A-Za-z]{3})?")
STORED = "bridge.salesforce/1"
"""Marks one stored notification (JSON) apart from a whole SOAP message."""

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body>'
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    "<Ack>true</Ack></notificationsResponse></soapenv:Body></soapenv:Envelope>"
).encode()


class SalesforceOptions(SourceOptions):
    kind: Literal["salesforce"]
    organization_ids: list[str] = Field(min_length=1)
    """Organizations whose messages are accepted: 15- or 18-character ids (`00D...`)."""
    token: SecretList = Field(default_factory=list)
    """`${VAR}`: a shared token the endpoint URL must carry as `?token=...`."""
    allow_without_token: bool = False
    """Accept messages that carry no token: anyone who knows the organization id can then
    send one (`bridge check` and `/readyz` on the admin port say so)."""
    token_parameter: str = Field("token", min_length=1)
    event_type: str | None = Field(None, min_length=1)
    """The event type rules match on; default: the sObject type (`Opportunity`)."""

    @field_validator("organization_ids", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("organization_ids")
    @classmethod
    def _organization_ids(cls, values: list[str]) -> list[str]:
        for value in values:
            if not ORGANIZATION_ID.fullmatch(value):
                raise ValueError(
                    f"{value!r} is not a Salesforce organization id (00D..., 15 or 18)"
                )
        return values

    @model_validator(mode="after")
    def _token_or_explicit_opt_out(self) -> Self:
        if not self.token and not self.allow_without_token:
            raise ValueError(
                "set token: ${VAR} (a long random string the endpoint URL carries as ?token=),"
                " or allow_without_token: true to accept anyone who knows the organization id"
            )
        return self


class SalesforceSource(Source):
    kind = "salesforce"
    replays_bounded_by_body_time = True
    options_model = SalesforceOptions
    options: SalesforceOptions

    @property
    def secrets(self) -> list[Secret]:
        return self.options.token

    @property
    def ready(self) -> bool:
        """Without a token (allowed explicitly) there is nothing to wait for; with one, it must
        be set."""
        return not self.options.token or super().ready

    def warnings(self) -> list[str]:
        if self.options.token:
            return []
        return [
            "allow_without_token: anyone who knows the organization id (it is in every"
            " Web-to-Lead form) can send messages it accepts; set token: ${VAR} and add"
            f" ?{self.options.token_parameter}=<the same value> to the outbound message's URL"
        ]

    def verify(self, request: InboundRequest) -> list[Event]:
        if self.options.token:
            self._check_token(request.url)
        notifications = _notifications(request.body)
        organization = _text(notifications, "OrganizationId") or ""
        allowed = {value[:15] for value in self.options.organization_ids}
        if organization[:15] not in allowed:
            raise VerificationFailed(
                f"organization {clipped(organization)} is not in this source's organization_ids"
            )
        return self._events(notifications)

    def sign(self, body: bytes, url: str, now: float) -> SignedRequest:
        """Nothing is signed: the token goes in the query, as in the outbound message's URL."""
        headers = {"Content-Type": "text/xml; charset=utf-8", "SOAPAction": '""'}
        if not self.options.token:
            return SignedRequest(headers)
        return SignedRequest(headers, {self.options.token_parameter: self.signing_value()})

    def parse(self, body: bytes) -> list[Event]:
        if body.lstrip().startswith(b"{"):
            document = signing.json_object(body, "stored Salesforce")
            stored = document.get(STORED)
            fields = document.get("fields")
            if not isinstance(stored, dict) or not isinstance(fields, dict):
                raise MalformedPayload("not a stored Salesforce notification")
            return [self._event(stored, fields)]
        return self._events(_notifications(body))

    def render(self, status: int, answer: dict[str, Any]) -> tuple[bytes, str]:
        if status == 200:
            return ACK, "text/xml; charset=utf-8"
        code = "soapenv:Client" if status < 500 else "soapenv:Server"
        message = escape(str(answer.get("error") or answer.get("reason") or "refused"))
        fault = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}"><soapenv:Body><soapenv:Fault>'
            f"<faultcode>{code}</faultcode><faultstring>{message}</faultstring>"
            "</soapenv:Fault></soapenv:Body></soapenv:Envelope>"
        )
        return fault.encode(), "text/xml; charset=utf-8"

    def _check_token(self, url: str) -> None:
        given = parse_qs(urlsplit(url).query).get(self.options.token_parameter, [])
        tokens = [value for ref in self.options.token for value in ref.values()]
        found = False
        for candidate in given:
            for token in tokens:
                found |= signing.equal_text(token, candidate)
        if not found:
            name = self.options.token_parameter
            raise VerificationFailed(f"missing or wrong ?{name}= in the endpoint URL")

    def _events(self, notifications: Element) -> list[Event]:
        context = {
            "organization_id": _text(notifications, "OrganizationId"),
            "action_id": _text(notifications, "ActionId"),
        }
        events = []
        for notification in notifications.iter(f"{OUTBOUND}Notification"):
            notification_id = _text(notification, "Id")
            sobject = notification.find(f"{OUTBOUND}sObject")
            if not notification_id or sobject is None:
                raise MalformedPayload("a Salesforce Notification needs an Id and an sObject")
            sobject_type = (sobject.get(f"{XSI}type") or "").rpartition(":")[2]
            stored = {**context, "notification_id": notification_id, "sobject": sobject_type}
            events.append(self._event(stored, _fields(sobject)))
        if not events:
            raise MalformedPayload("the Salesforce message holds no Notification")
        return events

    def _event(self, stored: dict[str, Any], fields: dict[str, Any]) -> Event:
        event_type = self.options.event_type or str(stored.get("sobject") or "")
        if not event_type:
            raise MalformedPayload("the sObject has no xsi:type; set event_type on the source")
        raw = orjson.dumps({STORED: stored, "fields": fields})
        occurred_at = sender_time(fields.get("LastModifiedDate"))
        return self.event(str(stored["notification_id"]), event_type, fields, raw, occurred_at)


def _notifications(body: bytes) -> Element:
    """The `<notifications>` element of a SOAP message, parsed without DTDs or entities."""
    try:
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as exc:
        raise MalformedPayload(
            f"XML with a DTD or entities is refused: {clipped(str(exc))}"
        ) from None
    except ParseError as exc:
        raise MalformedPayload(f"body is not well-formed XML: {exc}") from None
    if tree_too_deep(root, list):
        raise MalformedPayload(f"body is {TOO_DEEP}")
    found = root.find(f"{{{SOAP_ENV}}}Body/{OUTBOUND}notifications")
    if found is None:
        raise MalformedPayload("not a Salesforce outbound message (no soapenv:Body/notifications)")
    return found


def _text(element: Element, name: str) -> str | None:
    child = element.find(f"{OUTBOUND}{name}")
    return child.text.strip() if child is not None and child.text else None


def _fields(element: Element) -> dict[str, Any]:
    """Child elements by local name; nil as None, nested elements as objects."""
    fields: dict[str, Any] = {}
    for child in element:
        name = child.tag.rpartition("}")[2]
        if child.get(f"{XSI}nil") == "true":
            fields[name] = None
        elif len(child):
            fields[name] = _fields(child)
        else:
            fields[name] = child.text or ""
    return fields
