"""A rule's entries as one generated function give what evaluating each entry on its own gives."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jmespath
import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bridge.destinations.fields import FieldError
from bridge.mapping.entries import compile_entries, entries_source
from bridge.mapping.expressions import (
    EVALUATION_ERRORS,
    OPTIONS,
    Constant,
    EvaluationError,
    Expression,
    ExpressionError,
    JmesExpression,
    PathExpression,
    problem,
)
from bridge.mapping.fields import ObjectMapping, coerce, compile_entry, present
from bridge.vocabulary.money import Money
from tests.support.mappings import REPO, example_config

KEYS = st.sampled_from(["a", "b", "c", "0", "1"])
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-2, 1_700_000_000),
    st.floats(allow_nan=False, allow_infinity=False, width=16),
    st.sampled_from(["", "x", "0", "usd", "JPY", "eur", "2026-01-02T03:04:05Z", "yes"]),
)
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=5),
    max_leaves=16,
)
DEEP = ".".join(["a"] * 20)
"""Deeper than the emitter nests its lookups."""

RULES: list[tuple[dict[str, Any], frozenset[str]]] = [
    (
        {
            "session_id": "a.b || c",
            "user_id": "a.0",
            "label": {"const": "purchase"},
            "transaction_id": "a.b.c || b.c || a",
            "goal_id": "a.b.c",
        },
        frozenset({"session_id", "goal_id"}),
    ),
    (
        {
            "revenue": 'money(a, `"usd"`)',
            "occurred_at": "unix_seconds(b)",
            "products_count": "c",
        },
        frozenset({"revenue"}),
    ),
    (
        {"revenue": "stripe_money(a.b, c)", "session_id": "lower(to_string(a))"},
        frozenset(),
    ),
    (
        {"properties": {"x": "a.b", "y": "c.0", "z": {"const": 1}}, "consent": "b"},
        frozenset({"properties"}),
    ),
    (
        {"session_id": "a[0]", "label": "a[?b == 'x'].c | [0]", "user_id": "a.b && !c"},
        frozenset({"label"}),
    ),
    (
        {"session_id": "a.b.0.c", "user_id": "a.b.c", "visit_id": "a.1", "goal_id": "@"},
        frozenset(),
    ),
    (
        {"revenue": "money_major(a.b, b)", "occurred_at": "iso_time(a.c)", "label": "b == 'x'"},
        frozenset({"occurred_at"}),
    ),
    ({"session_id": DEEP, "user_id": f"{DEEP}.b || {DEEP}"}, frozenset({"session_id"})),
]


def reference(entries: dict[str, Expression], required: frozenset[str], payload: Any) -> Any:
    """Each entry on its own, its JMESPath evaluated by jmespath's interpreter."""
    values, problems = {}, []
    for name, entry in entries.items():
        try:
            value = coerce(name, interpret(entry, payload))
        except (*EVALUATION_ERRORS, FieldError) as exc:
            problems.append(f"{name}: {problem(exc)}")
            continue
        if value is not None:
            values[name] = value
        elif name in required:
            problems.append(f"{name} is missing (`{entry.text}` gave nothing)")
    return values, problems


def interpret(entry: Expression, payload: Any) -> Any:
    if isinstance(entry, JmesExpression):
        return jmespath.search(entry.text, payload, options=OPTIONS)
    if isinstance(entry, ObjectMapping):
        return present({name: interpret(item, payload) for name, item in entry._entries.items()})
    assert isinstance(entry, PathExpression | Constant)
    return entry.search(payload)


def outcome(evaluate: Any, *arguments: Any) -> tuple[str, Any]:
    try:
        return "value", evaluate(*arguments)
    except Exception as exc:
        return "error", f"{type(exc).__name__}: {exc}"


@pytest.mark.parametrize(("written", "required"), RULES)
@settings(max_examples=80, derandomize=True, deadline=None)
@given(payload=JSON)
def test_generated_entries_match_each_entry_evaluated_alone(
    written: dict[str, Any], required: frozenset[str], payload: Any
) -> None:
    entries = {name: compile_entry(value) for name, value in written.items()}
    generated = compile_entries(entries, required)
    got = outcome(generated, payload)
    assert got == outcome(reference, entries, required, payload)
    if got[0] == "value":
        for name, value in got[1][0].items():
            assert type(value) is type(reference(entries, required, payload)[0][name])


def test_money_time_and_count_entries_give_values_or_name_their_problem() -> None:
    entries = {name: compile_entry(value) for name, value in RULES[1][0].items()}
    generated = compile_entries(entries, RULES[1][1])
    values, problems = generated({"a": 1999, "b": 1_700_000_000, "c": "3"})
    assert values["revenue"] == Money.from_minor(1999, "USD")
    assert values["products_count"] == 3
    values, problems = generated({"a": 19.99, "b": "soon", "c": -1})
    assert values == {}
    assert any(line.startswith("revenue: ") for line in problems)
    assert any(line.startswith("occurred_at: ") for line in problems)
    assert any(line.startswith("products_count: expected a whole number") for line in problems)


def test_names_and_literals_from_a_mapping_never_become_code() -> None:
    hostile = "x') or __import__('os').system('false') or ('"
    entries = {
        "session_id": compile_entry(f'"{hostile}"'),
        "label": compile_entry({"const": hostile}),
        "user_id": compile_entry(f'a || `"{hostile}"`'),
    }
    generated = compile_entries(entries, frozenset())
    values, problems = generated({hostile: "found"})
    assert (values, problems) == ({"session_id": "found", "label": hostile, "user_id": hostile}, [])
    assert "import" not in entries_source(entries, frozenset())


def test_an_entry_that_fails_names_its_field_and_leaves_the_others() -> None:
    entries = {
        "session_id": compile_entry("lower(a)"),
        "user_id": compile_entry("b"),
    }
    values, problems = compile_entries(entries, frozenset())({"a": 5, "b": "u1"})
    assert values == {"user_id": "u1"}
    assert problems == ["session_id: lower() expected string, null, got number"]
    with pytest.raises(EvaluationError, match=r"^lower\(\) expected string, null, got number$"):
        entries["session_id"].search({"a": 5})


@pytest.mark.parametrize("terms", [60, 250])
def test_expressions_deeper_than_python_parses_are_evaluated_by_the_interpreter(
    terms: int,
) -> None:
    text = " || ".join(f"a{number}" for number in range(terms))
    nested: dict[str, Any] = {"x": {"y": "b"}}
    for _ in range(40):
        nested = {"x": nested}
    steps = ".b" * terms
    entries = {
        "session_id": compile_entry(text),
        "properties": compile_entry(nested),
        "user_id": compile_entry(f"a0[0]{steps} || to_string(a1){steps}"),
    }
    generated = compile_entries(entries, frozenset({"session_id"}))
    chain: object = "deep"
    for _ in range(terms):
        chain = {"b": chain}
    for payload in ({f"a{terms - 1}": "last", "b": 1}, {"a0": "first"}, {"a0": [chain]}, {}):
        assert generated(payload) == reference(entries, frozenset({"session_id"}), payload)
    assert generated({f"a{terms - 1}": "last"})[0]["session_id"] == "last"


def test_an_expression_nested_past_any_limit_is_refused_when_mappings_load() -> None:
    with pytest.raises(ExpressionError, match="nested too deeply"):
        compile_entry(" || ".join(["a"] * 2000))


SHIPPED = [
    REPO / "mappings" / "stripe-to-pagent.yaml",
    *sorted((REPO / "mappings" / "examples").glob("*-to-*.yaml")),
]


def without_each_leaf(payload: Any, limit: int = 60) -> list[Any]:
    """The payload, and copies of it each missing one of its first `limit` object keys."""
    variants = [payload]
    paths: list[tuple[Any, ...]] = []

    def walk(value: Any, path: tuple[Any, ...]) -> None:
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            if isinstance(value, dict):
                paths.append((*path, key))
            if isinstance(item, dict | list):
                walk(item, (*path, key))

    if isinstance(payload, dict | list):
        walk(payload, ())
    for path in paths[:limit]:
        copy = orjson.loads(orjson.dumps(payload))
        parent = copy
        for key in path[:-1]:
            parent = parent[key]
        del parent[path[-1]]
        variants.append(copy)
    return variants


@pytest.mark.parametrize("mapping", SHIPPED, ids=lambda path: path.stem)
def test_every_shipped_rule_gives_what_its_entries_give_alone_on_the_samples(
    tmp_path: Path, mapping: Path
) -> None:
    config = example_config(tmp_path, mapping)
    checked = 0
    for rule in config.rules.rules:
        source = config.sources[rule.source]
        for sample in sorted((REPO / "mappings" / "samples" / source.kind).iterdir()):
            for event in source.parse(sample.read_bytes()):
                for payload in without_each_leaf(event.payload):
                    expected = reference(rule.entries, rule.required, payload)
                    assert rule._entries(payload) == expected, (rule.name, sample.name)
                    checked += 1
    assert checked > len(config.rules.rules)
