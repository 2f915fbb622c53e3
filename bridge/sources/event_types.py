"""The event types each sender sends, where they can be known, so that `bridge check` can
point at a rule listening for a type that never comes (`checkout.session.complete`).

Where the sender's own library lists them, that list is the one used: it follows the sender's
API as the library is upgraded. A sender without such a list gets no check (a pinned copy
would call a type it added later a mistake).
"""

from __future__ import annotations

import difflib
from functools import cache
from typing import get_args

import stripe


@cache
def known_event_types(kind: str) -> frozenset[str] | None:
    """Every event type a source kind sends, or None when bridge cannot know them."""
    if kind == "stripe":
        # `stripe.Event.type` is typed as a Literal of every event type the API version sends.
        types = frozenset(get_args(stripe.Event.__annotations__.get("type")))
        return types or None
    return None


def closest_event_type(kind: str, written: str) -> str | None:
    """The known event type `written` most likely meant, if one is close."""
    known = known_event_types(kind)
    if not known:
        return None
    close = difflib.get_close_matches(written, sorted(known), n=1, cutoff=0.8)
    return close[0] if close else None
