"""A rule's `conversion:` entries as one Python function, generated when mappings load.

Evaluated entry by entry, a rule pays a call per expression, per path and per coercion, and
looks up `data.object` once for every entry that starts there. The generated function
(`compiled.Emitter`) looks each path prefix up once and runs every entry's expression and
coercion in line, because a rule runs on every webhook (docs/benchmarks.md). It gives what
evaluating each entry on its own gives (`Expression.search`, then the field's coercion), which
a test checks on generated payloads: the values present and, for each entry that failed or is
required and missing, the problem in words. `entries_source` shows the function a rule gets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from bridge.destinations.fields import FieldError
from bridge.mapping.compiled import Emitter
from bridge.mapping.expressions import EVALUATION_ERRORS, OPTIONS, Expression, problem
from bridge.mapping.fields import COERCERS

Entries = Callable[[Any], tuple[dict[str, Any], list[str]]]
"""Payload -> (the fields that have a value, coerced; the problems, one line each)."""

_ERRORS = (*EVALUATION_ERRORS, FieldError)


def compile_entries(entries: Mapping[str, Expression], required: frozenset[str]) -> Entries:
    emitter, body = _emit(entries, required)
    function: Entries = emitter.function(body, "entries")
    return function


def entries_source(entries: Mapping[str, Expression], required: frozenset[str]) -> str:
    """The generated function's source, to read when a rule does not do what it should."""
    emitter, body = _emit(entries, required)
    return emitter.source(body, "entries")


def _emit(entries: Mapping[str, Expression], required: frozenset[str]) -> tuple[Emitter, list[str]]:
    emitter = Emitter(OPTIONS)
    errors, describe = emitter.constant(_ERRORS), emitter.constant(problem)
    text = emitter.constant(str)
    body = ["values = {}", "problems = []"]
    for name, entry in entries.items():
        body += [
            "try:",
            f"    value = {entry.emit(emitter)}",
            # as `fields.coerce`: an empty string is missing
            f"    if value is not None and (value or not isinstance(value, {text})):",
            f"        values[{emitter.constant(name)}] = {emitter.constant(COERCERS[name])}(value)",
        ]
        if name in required:
            missing = f"{name} is missing (`{entry.text}` gave nothing)"
            body += ["    else:", f"        problems.append({emitter.constant(missing)})"]
        body += [
            f"except {errors} as error:",
            f"    problems.append({emitter.constant(f'{name}: ')} + {describe}(error))",
        ]
    body.append("return values, problems")
    return emitter, body
