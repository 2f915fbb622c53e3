"""How deeply a peer's document may nest: one limit, checked once where the document is parsed.

Nothing a sender means is nested more than a few levels (a Stripe event about ten, a Salesforce
message six). A document nested hundreds of levels deep is not data but a way to exhaust the
stack of whatever walks it later: Python's recursion limit (`str()`, `==`, the XML field
reader), orjson's 254 levels when a value is written again, JMESPath. Refused at parse, every
later walker only ever meets shallow values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

MAX_DEPTH = 64
"""Levels of objects/arrays (JSON) or elements (XML), the outermost counting as one."""

TOO_DEEP = f"nested deeper than {MAX_DEPTH} levels"


def json_too_deep(raw: bytes, document: Any) -> bool:
    """True when the parsed JSON `document` (from `raw`) nests deeper than `MAX_DEPTH`.

    A document cannot nest deeper than it has '{' and '[': counting them (in C, about a
    microsecond for a 2 KB body) spares the walk for almost every webhook.
    """
    if raw.count(b"{") + raw.count(b"[") <= MAX_DEPTH:
        return False
    return _deeper(document, _json_children)


def tree_too_deep(root: Any, children: Callable[[Any], Iterable[Any]]) -> bool:
    """True when a tree (XML elements: `children=list`) nests deeper than `MAX_DEPTH`."""
    return _deeper(root, children)


def _json_children(node: Any) -> list[Any]:
    values = node.values() if type(node) is dict else node
    return [child for child in values if type(child) is dict or type(child) is list]


def _deeper(root: Any, children: Callable[[Any], Iterable[Any]]) -> bool:
    """One level at a time, without recursion: the walk itself must not need a deep stack."""
    if type(root) is not dict and type(root) is not list and children is _json_children:
        return False
    level = [root]
    for _ in range(MAX_DEPTH):
        level = [child for node in level for child in children(node)]
        if not level:
            return False
    return True
