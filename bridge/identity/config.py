"""A ledger's settings, as the `ledgers:` key of a mapping file writes them.

The origins are the CORS allow-list of a public endpoint, so they are exact origins as a
browser sends them (`https://shop.example.com`, a port only when not the scheme's default):
no wildcard, no path, and plain http only for a page on the same machine (localhost).
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from bridge.identity.vendors import VENDOR_NAMES
from bridge.vocabulary.secrets import Secret


def known_vendor(name: str) -> str:
    if name not in VENDOR_NAMES:
        raise ValueError(f"unknown vendor (known: {', '.join(VENDOR_NAMES)})")
    return name


Vendor = Annotated[str, AfterValidator(known_vendor)]

_HOST = re.compile(r"[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*")
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1"})
_DEFAULT_PORTS = {"https": 443, "http": 80}


def exact_origin(text: str) -> str:
    """`text` as the `Origin` header a browser sends for that site (lower case, the scheme's
    default port left out), or ValueError saying what is wrong with it."""
    if not text.isprintable() or any(c.isspace() for c in text):
        raise ValueError("an origin holds no spaces or control characters")
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORTS or not text.lower().startswith(f"{scheme}://"):
        raise ValueError(
            "an origin is scheme://host[:port] with scheme https (or http for localhost)"
        )
    if parts.path or parts.query or parts.fragment or text.endswith(("?", "#")):
        raise ValueError("an origin has no path, not even '/' (scheme://host[:port])")
    if parts.username is not None or parts.password is not None:
        raise ValueError("an origin has no user or password")
    try:
        port = parts.port
    except ValueError:
        raise ValueError("an origin's port is a number from 1 to 65535") from None
    host = (parts.hostname or "").lower()
    if not _HOST.fullmatch(host):
        raise ValueError("an origin's host is a name such as shop.example.com (no '*')")
    if scheme == "http" and host not in _LOCAL_HOSTS:
        raise ValueError("an origin with plain http is allowed only for localhost and 127.0.0.1")
    if port == 0:
        raise ValueError("an origin's port is a number from 1 to 65535")
    shown_port = "" if port is None or port == _DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown_port}"


Origin = Annotated[str, AfterValidator(exact_origin)]
Setting = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.$-]{1,100}$")]
"""A name the script looks up on the page: a label, a cookie, a window global, a URL parameter."""
Selector = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]

_VENDOR_SETTINGS = {
    "pagent_label": "pagent",
    "conductrics_vid": "conductrics",
    "scanova_param": "scanova",
}


class LedgerConfig(BaseModel):
    """One ledger: who may post to it, what it accepts, and how long it keeps it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    origins: list[Origin] = Field(min_length=1, max_length=100)
    """The pages allowed to post beacons (CORS), exact origins."""
    ttl_days: int = Field(90, ge=1, le=400)
    """How long sightings and links are kept."""
    require_consent: bool = False
    """True: a beacon without `consent: granted` stores nothing."""
    email_pepper: Secret | None = None
    """A server-side secret keyed into the hash of an email a rule uses as a key or link
    (`${VAR}`): without it the hash is plain sha256, which a list of addresses can reverse."""
    wait_minutes: float = Field(15, ge=0, le=1440)
    """How long a webhook whose key the ledger does not know yet waits for its beacon
    (`waiting_identity`) before it is `unmapped`; 0: unmapped at once."""
    vendors: list[Vendor] = Field(min_length=1)
    """Whose ids the script captures and the endpoint accepts."""
    pagent_label: Setting | None = None
    conductrics_vid: Setting | None = None
    scanova_param: Setting | None = None
    forms: list[Selector] = Field(default_factory=list, max_length=50)
    """CSS selectors of forms that get a hidden input `bridge_ref`."""

    @model_validator(mode="after")
    def _settings_of_listed_vendors(self) -> LedgerConfig:
        """A vendor's capture setting for a vendor the ledger does not take is a mistake that
        would otherwise pass silently (its ids would be refused)."""
        if len(set(self.vendors)) != len(self.vendors):
            raise ValueError("vendors: each vendor is listed once")
        for setting, vendor in _VENDOR_SETTINGS.items():
            if getattr(self, setting) is not None and vendor not in self.vendors:
                raise ValueError(f"{setting} is set but {vendor} is not in vendors")
        return self

    @property
    def ttl_ms(self) -> int:
        return self.ttl_days * 86_400_000

    @property
    def wait_ms(self) -> int:
        return int(self.wait_minutes * 60_000)
