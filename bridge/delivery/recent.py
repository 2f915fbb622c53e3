"""Conversions this process has just stored, kept so its own worker need not decode them again.

When ingest and delivery share a process (`bridge serve` with its worker, the default), every
conversion the worker claims was a Python object moments before, and decoding its stored JSON
back into a `Conversion` is a fifth of the worker's CPU (docs/benchmarks.md, "The levers"). The
store stays the truth: entries are keyed by the exact stored bytes, which
`Conversion.to_json` writes and `decode` below reads back unchanged, so a hit is the object
those bytes decode to, and a miss (a conversion another process stored, a retry, one pushed out
by newer ones) decodes as before.
"""

from __future__ import annotations

import orjson

from bridge.vocabulary.model import Conversion


class RecentConversions:
    def __init__(self, capacity: int = 4096) -> None:
        self._capacity = capacity
        self._by_encoding: dict[bytes, Conversion] = {}

    def keep(self, encoded: bytes, conversion: Conversion) -> None:
        """Remember `conversion` as the value of `encoded`; the oldest goes past `capacity`."""
        kept = self._by_encoding
        kept[encoded] = conversion
        if len(kept) > self._capacity:
            del kept[next(iter(kept))]

    def decode(self, encoded: bytes) -> Conversion:
        """The conversion stored as `encoded`: the kept object once, then decoded from JSON."""
        conversion = self._by_encoding.pop(encoded, None)
        if conversion is None:
            return decode(encoded)
        return conversion

    def __len__(self) -> int:
        return len(self._by_encoding)


def decode(encoded: bytes) -> Conversion:
    return Conversion.from_dict(orjson.loads(encoded))
