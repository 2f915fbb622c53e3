"""Which ids each vendor's browser side gives, as a beacon carries them.

One entry per vendor: a new vendor adds its block's field names here (and its capture in
identify.js). A field is an id (one string) or a map (Convert's bucketing and segments).
"""

from __future__ import annotations

from typing import Literal

FieldKind = Literal["id", "map"]

BLOCKS: dict[str, dict[str, FieldKind]] = {
    "pagent": {"session_id": "id", "user_id": "id", "conversion_id": "id"},
    "convert": {"visitor_id": "id", "bucketing": "map", "segments": "map"},
    "conductrics": {"vid": "id"},
    "scanova": {"session_id": "id"},
}
"""Vendor -> the fields its block may hold, and what each is."""

VENDOR_NAMES = tuple(BLOCKS)
