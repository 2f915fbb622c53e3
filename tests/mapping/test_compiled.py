"""Compiled expressions give exactly what jmespath's own interpreter gives, on any payload."""

from __future__ import annotations

from typing import Any

import jmespath
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.mapping.compiled import compile_tree
from bridge.mapping.functions import BridgeFunctions

OPTIONS = jmespath.Options(custom_functions=BridgeFunctions())
KEYS = st.sampled_from(["a", "b", "c", "status"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 2),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "paid", "x", "0"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=12,
)
EXPRESSIONS = [
    "a",
    "a.b.c",
    "a || b",
    'a.b || b.c || `"fallback"`',
    "a && b",
    "!a",
    "!(a.b)",
    "a == b",
    "a != `1`",
    "status == 'paid'",
    "'0' != a",
    "a.b != 'x'",
    '`"1"` == a',
    "a == `true`",
    "a == `0`",
    "a < b",
    "`[1, 2]`",
    "@",
    "a[0]",
    "a[?b == 'x'].c | [0]",
    "length(a || `[]`)",
    "to_string(a)",
    "lower(to_string(a))",
    "a.b && !c || status == 'paid'",
    "lower(a)",
    "money(a, b)",
    'stripe_money(a, `"usd"`)',
    "unix_seconds(a.b)",
    "sha256(a)",
    "join(',', a)",
    "max(a)",
]


def outcome(evaluate: Any, payload: Any) -> tuple[str, Any]:
    try:
        return "value", evaluate(payload)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize("text", EXPRESSIONS)
@settings(max_examples=60, derandomize=True, deadline=None)
@given(payload=JSON)
def test_compiled_matches_the_interpreter(text: str, payload: Any) -> None:
    parsed = jmespath.compile(text)
    compiled = compile_tree(dict(parsed.parsed), OPTIONS)
    expected = outcome(lambda p: parsed.search(p, options=OPTIONS), payload)
    got = outcome(compiled, payload)
    assert got == expected
    if got[0] == "value":
        assert type(got[1]) is type(expected[1])  # True stays True, 1 stays 1
