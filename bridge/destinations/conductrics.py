"""Conductrics REST runtime API, goals only (`POST {base}/{owner}/v3/agent-api`).

Wire facts from Conductrics' documentation and SDK: the runtime key, session and external
visitor id travel as query parameters (`apikey`, `session`, `vid`); the body is
`{"commands": [{"g": goal_code, "v": value}, ...]}`, so several goals of one session share one
request; `v` is a number in major units (1 for a plain conversion). The answer reports per goal
what was credited (`data.items[].rs[].v`): 0 means the call was accepted but nothing was
credited (no prior selection in that session, or already rewarded), which is final, not an
error. An answer of another shape is taken as accepted by its HTTP status (`unverified`),
never resent: a 2xx may have counted. Conductrics credits goals only within 72 hours of the
selection, so older conversions are not sent. Conductrics itself ignores a second reward of the
same goal in one session, so a resend after a crash is harmless.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any, Literal
from urllib.parse import urlencode

import orjson
from pydantic import Field

from bridge.destinations.base import (
    DEFAULT_USER_AGENT,
    Destination,
    DestinationOptions,
    VendorRequest,
    VendorResponse,
    shown_secret,
)
from bridge.destinations.verdicts import Delivered, Verdict, classify_http
from bridge.utilities.times import unix_ms
from bridge.vocabulary.model import Conversion
from bridge.vocabulary.secrets import EnvStr, Secret

UNREADABLE = "unreadable answer, taken as accepted"
NOT_CREDITED = (
    "accepted but not credited: no selection for this session within the credit window,"
    " or the goal was already rewarded"
)


class ConductricsOptions(DestinationOptions):
    vendor: Literal["conductrics"]
    base_url: EnvStr = "https://api-v3.conductrics.com"
    owner: EnvStr = Field(min_length=1)
    """The account (owner) code in the REST API deploy target's URL, e.g. ac-xxxxxx."""
    api_key: Secret
    credit_window_hours: float = Field(72.0, gt=0)
    """Conductrics credits goals this long after the selection; older conversions are not sent."""
    batch_size: int = Field(100, ge=1, le=1000)


class ConductricsDestination(Destination):
    vendor = "conductrics"
    options_model = ConductricsOptions
    options: ConductricsOptions

    @property
    def required_fields(self) -> frozenset[str]:
        return frozenset({"visitor_id", "goal_id"})

    @property
    def secrets(self) -> list[Secret]:
        return [self.options.api_key]

    @property
    def max_batch(self) -> int:
        return self.options.batch_size

    def unsendable(self, conversion: Conversion, now_ms: int) -> str | None:
        """Past the credit window, counted from the visitor's selection: the capture of the
        vid by the identity ledger where the conversion was made with it (the selection came
        no later), else the conversion's own time."""
        window = self.options.credit_window_hours
        window_ms = timedelta(hours=window) // timedelta(milliseconds=1)
        captured = (conversion.ids_captured_at or {}).get("conductrics")
        if captured is not None and now_ms - captured > window_ms:
            hours = (now_ms - captured) / 3_600_000
            return (
                f"the visitor's vid was captured {hours:.0f} h ago, past Conductrics' credit"
                f" window of {window:g} h from the selection: it would not be credited"
            )
        if now_ms - unix_ms(conversion.occurred_at) > window_ms:
            return (
                f"older than Conductrics' credit window of {window:g} h: it would not be credited"
            )
        return None

    def requests(self, conversions: Sequence[Conversion]) -> list[VendorRequest]:
        """One request per (session, visitor), carrying all of its goals."""
        groups: dict[tuple[str, str], list[int]] = {}
        for index, conversion in enumerate(conversions):
            groups.setdefault(_identity(conversion), []).append(index)
        return [
            self._request(identity, [conversions[i] for i in indexes], tuple(indexes))
            for identity, indexes in groups.items()
        ]

    def _request(
        self, identity: tuple[str, str], conversions: list[Conversion], items: tuple[int, ...]
    ) -> VendorRequest:
        session, vid = identity
        commands = [{"g": c.goal_id, "v": _value(c)} for c in conversions]
        base = f"{self.options.base_url.rstrip('/')}/{self.options.owner}/v3/agent-api"
        key = self.options.api_key
        visitor = urlencode({"session": session, "vid": vid})
        return VendorRequest(
            method="POST",
            url=f"{base}?{urlencode({'apikey': key.reveal() or ''})}&{visitor}",
            headers={"Content-Type": "application/json", "User-Agent": DEFAULT_USER_AGENT},
            body=orjson.dumps({"commands": commands}),
            items=items,
            shown_url=f"{base}?apikey={shown_secret(key)}&{visitor}",
        )

    def classify(self, request: VendorRequest, response: VendorResponse) -> list[Verdict]:
        verdict = classify_http(response.status, response.headers, response.text())
        if not isinstance(verdict, Delivered):
            return [verdict] * len(request.items)
        read = _read_answer(response.body)
        if read is None:
            # Accepted by its HTTP status, credit unknown: never resent, as it may have counted.
            text = response.text(200)
            answer = f"{UNREADABLE}: {text}" if text else UNREADABLE
            unread = Delivered(response.status, answer, verified=False)
            return [unread] * len(request.items)
        status, goals = read
        if status != 200:
            return [classify_http(status, response.headers, response.text())] * len(request.items)
        return [_credited(goals, position, verdict) for position in range(len(request.items))]


def _identity(conversion: Conversion) -> tuple[str, str]:
    """`vid` matches the browser's selections; the API also wants a session (the same is fine)."""
    vid = str(conversion.visitor_id)
    return (conversion.session_id or vid, vid)


def _value(conversion: Conversion) -> Any:
    if conversion.revenue is None:
        return 1
    return orjson.Fragment(conversion.revenue.major_text().encode())


def _read_answer(body: bytes) -> tuple[int, list[list[dict[str, Any]]]] | None:
    """The answer's own status and each goal's rewards (`data.items[].rs`), or None when the
    answer has another shape."""
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(answer, dict):
        return None
    status = answer.get("status", 200)
    if not _is_int(status) or not 100 <= status <= 599:
        return None
    if status != 200:
        return status, []
    data = answer.get("data")
    items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    goals = []
    for item in items:
        if not isinstance(item, dict):
            return None
        if "g" not in item:
            continue  # not a goal (a selection)
        rewards = item.get("rs") or []
        if not isinstance(rewards, list) or not all(isinstance(r, dict) for r in rewards):
            return None
        goals.append(rewards)
    return status, goals


def _credited(goals: list[list[dict[str, Any]]], position: int, delivered: Delivered) -> Verdict:
    if position >= len(goals):
        return Delivered(delivered.status, delivered.answer, credited=False)
    credited = any(_positive(reward.get("v")) for reward in goals[position])
    answer = None if credited else NOT_CREDITED
    return Delivered(delivered.status, answer or delivered.answer, credited=credited)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _positive(value: Any) -> bool:
    return (_is_int(value) or isinstance(value, float)) and value > 0
