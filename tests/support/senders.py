"""Every sender kind, signed the way the sender signs: one `Sender` per kind in the registry.

The kinds are `bridge.sources.SOURCE_KINDS`; what is written here by hand is only how each one
signs (`SIGNERS`, independently of bridge), and `tests/sources/test_checklist.py` fails for a kind
without one. Each sender's source name comes from the shipped mappings (`mappings/stripe.yaml`
and every example), with each `${VARIABLE}` set to `SECRET`, and its samples are the files of
`mappings/samples/<kind>/`. `sign` computes the scheme's real signature over the body (and over
the timestamp text it is given, so a hostile timestamp is signed as well and gets past the
signature to the code that reads it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml

from bridge.runtime.settings import Settings
from bridge.sources import SOURCE_KINDS
from tests.support.stripe import REPO

SECRET = "ab" * 16
"""The value of every variable: usable text, hex (Close) and base64 (Standard Webhooks) alike."""
SAMPLES = REPO / "mappings" / "samples"
SHIPPED = [
    *sorted(
        path
        for path in (REPO / "mappings" / "examples").glob("*.yaml")
        if not path.name.startswith("stripe-to-")
    ),
    *(REPO / "mappings" / name for name in ("stripe.yaml", "stripe-to-pagent.yaml", "pagent.yaml")),
]
"""The mapping files every sender is served from: each example, and the shipped Stripe setup."""
_unique = itertools.count(1)


@dataclass(frozen=True)
class Signed:
    query: str
    headers: dict[str, str]


Sign = Callable[[bytes, str, str], Signed]
"""(body, timestamp text, the URL the request goes to) -> what the request carries."""


def _iso_z(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.000000Z")


def _json(change: Callable[[Any, datetime], None]) -> Callable[[bytes, datetime], bytes]:
    def aged(body: bytes, moment: datetime) -> bytes:
        payload = orjson.loads(body)
        change(payload, moment)
        return orjson.dumps(payload)

    return aged


def _date_shopify(order: Any, moment: datetime) -> None:
    order.update(created_at=moment.isoformat(), updated_at=moment.isoformat())


def _date_woocommerce(order: Any, moment: datetime) -> None:
    stamp = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    order.update(date_created_gmt=stamp, date_modified_gmt=stamp)


def _date_lemonsqueezy(payload: Any, moment: datetime) -> None:
    payload["data"]["attributes"].update(created_at=_iso_z(moment), updated_at=_iso_z(moment))


def _date_pipedrive(payload: Any, moment: datetime) -> None:
    payload["meta"]["timestamp"] = _iso_z(moment)


def _date_chargebee(payload: Any, moment: datetime) -> None:
    payload["occurred_at"] = int(moment.timestamp())


def _date_hubspot(events: Any, moment: datetime) -> None:
    for event in events if isinstance(events, list) else ():  # a workflow body holds no time
        event["occurredAt"] = int(moment.timestamp() * 1000)


def _date_hmac(payload: Any, moment: datetime) -> None:
    payload["created_at"] = moment.isoformat()


def _date_salesforce(body: bytes, moment: datetime) -> bytes:
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S.000Z").encode()
    return body.replace(b"2026-03-04T10:15:02.000Z", stamp)


DATED: dict[str, Callable[[bytes, datetime], bytes]] = {
    "shopify": _json(_date_shopify),
    "woocommerce": _json(_date_woocommerce),
    "lemonsqueezy": _json(_date_lemonsqueezy),
    "pipedrive": _json(_date_pipedrive),
    "chargebee": _json(_date_chargebee),
    "hubspot": _json(_date_hubspot),
    "hmac": _json(_date_hmac),
    "salesforce": _date_salesforce,
}
"""Per sender that signs no time: its sample with the event's own time set to a moment."""


@dataclass(frozen=True)
class Sender:
    kind: str
    source: str
    """The source's name in the shipped mappings (its path is /webhooks/<source>)."""
    samples: tuple[str, ...]
    sign: Sign
    per_second: int | None = None
    """Units of the signed timestamp per second; None for schemes that sign no timestamp."""

    def now(self) -> str:
        return str(int(time.time() * (self.per_second or 1)))

    def sample(self, index: int = 0) -> bytes:
        """The sample as the sender would send it now (`fresh`)."""
        return fresh(self.kind, self.recorded(index))

    def recorded(self, index: int = 0) -> bytes:
        """The sample file as it was recorded, its own times included."""
        return (SAMPLES / self.kind / self.samples[index]).read_bytes()


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def _basic() -> Signed:
    return Signed("", {"authorization": "Basic " + _b64(f"{SECRET}:{SECRET}".encode())})


def _stripe(body: bytes, stamp: str, url: str) -> Signed:
    mac = _hmac(SECRET.encode(), stamp.encode() + b"." + body).hex()
    return Signed("", {"stripe-signature": f"t={stamp},v1={mac}"})


def _hubspot(body: bytes, stamp: str, url: str) -> Signed:
    mac = _hmac(SECRET.encode(), b"POST" + url.encode() + body + stamp.encode())
    return Signed("", {"x-hubspot-signature-v3": _b64(mac), "x-hubspot-request-timestamp": stamp})


def _shopify(body: bytes, stamp: str, url: str) -> Signed:
    headers = {
        "x-shopify-hmac-sha256": _b64(_hmac(SECRET.encode(), body)),
        "x-shopify-topic": "orders/paid",
        "x-shopify-event-id": f"event-{next(_unique)}-{time.monotonic_ns()}",
    }
    return Signed("", headers)


def _woocommerce(body: bytes, stamp: str, url: str) -> Signed:
    signature = _b64(_hmac(SECRET.encode(), body))
    return Signed("", {"x-wc-webhook-signature": signature, "x-wc-webhook-topic": "order.updated"})


def _salesforce(body: bytes, stamp: str, url: str) -> Signed:
    return Signed(f"?token={SECRET}", {"content-type": "text/xml"})


def _close(body: bytes, stamp: str, url: str) -> Signed:
    mac = _hmac(bytes.fromhex(SECRET), stamp.encode() + body).hex()
    return Signed("", {"close-sig-hash": mac, "close-sig-timestamp": stamp})


def _lemonsqueezy(body: bytes, stamp: str, url: str) -> Signed:
    return Signed("", {"x-signature": _hmac(SECRET.encode(), body).hex()})


def _paddle(body: bytes, stamp: str, url: str) -> Signed:
    mac = _hmac(SECRET.encode(), stamp.encode() + b":" + body).hex()
    return Signed("", {"paddle-signature": f"ts={stamp};h1={mac}"})


def _standard_webhooks(body: bytes, stamp: str, url: str) -> Signed:
    message_id = f"msg_{next(_unique)}_{time.monotonic_ns()}"
    key = base64.b64decode(SECRET)  # the spec: the base64 after an optional `whsec_`
    mac = _hmac(key, f"{message_id}.{stamp}.".encode() + body)
    headers = {
        "webhook-id": message_id,
        "webhook-timestamp": stamp,
        "webhook-signature": "v1," + _b64(mac),
    }
    return Signed("", headers)


def _github_style(body: bytes, stamp: str, url: str) -> Signed:
    return Signed("", {"x-hub-signature-256": "sha256=" + _hmac(SECRET.encode(), body).hex()})


@dataclass(frozen=True)
class Signer:
    sign: Sign
    per_second: int | None = None
    """Units of the signed timestamp per second; None for schemes that sign no timestamp."""


SIGNERS: dict[str, Signer] = {
    "stripe": Signer(_stripe, 1),
    "hubspot": Signer(_hubspot, 1000),
    "shopify": Signer(_shopify),
    "woocommerce": Signer(_woocommerce),
    "salesforce": Signer(_salesforce),
    "close": Signer(_close, 1),
    "pipedrive": Signer(lambda *_: _basic()),
    "chargebee": Signer(lambda *_: _basic()),
    "lemonsqueezy": Signer(_lemonsqueezy),
    "paddle": Signer(_paddle, 1),
    "standard-webhooks": Signer(_standard_webhooks, 1),
    "hmac": Signer(_github_style),
}
"""How each sender kind signs: one per kind in `SOURCE_KINDS`."""


def shipped_sources() -> dict[str, str]:
    """Each kind's first source name in the shipped mappings (its path is /webhooks/<name>)."""
    names: dict[str, str] = {}
    for path in SHIPPED:
        for name, source in (yaml.safe_load(path.read_text()).get("sources") or {}).items():
            names.setdefault(source["kind"], name)
    return names


def samples_of(kind: str) -> tuple[str, ...]:
    folder = SAMPLES / kind
    return tuple(sorted(path.name for path in folder.iterdir())) if folder.is_dir() else ()


def _senders() -> dict[str, Sender]:
    names = shipped_sources()
    return {
        kind: Sender(kind, names[kind], samples_of(kind), signer.sign, signer.per_second)
        for kind in SOURCE_KINDS
        if (signer := SIGNERS.get(kind)) and kind in names and samples_of(kind)
    }


SENDERS = _senders()
"""Every registered kind with a signer, a shipped source and samples (the checklist test fails
for a kind that lacks one)."""


def shipped_mappings(folder: Path) -> dict[str, str]:
    """Every shipped source and its rules in `folder`; the environment naming every secret."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in SHIPPED:
        shutil.copy(path, folder)
    text = "".join(path.read_text() for path in folder.glob("*.yaml"))
    return dict.fromkeys(re.findall(r"\$\{([A-Z0-9_]+)\}", text), SECRET)


def fresh(kind: str, body: bytes) -> bytes:
    """`body` of a sender of `kind` with the event's own time set to now: senders that sign no
    time are refused a body older than the dedupe window, and the sample files are older."""
    date = DATED.get(kind)
    return body if date is None else date(body, datetime.now(UTC))


def every_sender_settings(
    directory: Path, monkeypatch: pytest.MonkeyPatch, admin_token: str | None = None
) -> Settings:
    """Settings serving every shipped source from `directory`, each secret in the environment."""
    for name, value in shipped_mappings(directory / "mappings").items():
        monkeypatch.setenv(name, value)
    return Settings(
        database_url=f"sqlite:///{directory / 'b.db'}",
        mappings_dir=directory / "mappings",
        admin_token=admin_token,
    )
