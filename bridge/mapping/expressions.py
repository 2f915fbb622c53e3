"""Field expressions: JMESPath with bridge's functions, compiled once when mappings load.

A plain dotted path (`data.object.metadata.pagent-session`) works as written, including keys
with hyphens and list indexes (`lines.data.0.price`) that JMESPath itself would reject; it is
compiled to a direct lookup, which is also the fastest thing to evaluate. Anything else is
JMESPath (jmespath.org), checked at load for syntax, unknown functions, arity and literal
currencies. Expressions read the payload; they cannot run code.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError, JMESPathTypeError

from bridge.mapping.compiled import ROOT, Emitter, Step, compile_tree
from bridge.mapping.functions import FUNCTION_NAMES, MONEY_FUNCTIONS, BridgeFunctions, FunctionError
from bridge.vocabulary.money import MoneyError, normalize_currency

OPTIONS = jmespath.Options(custom_functions=BridgeFunctions())
_PLAIN_PATH = re.compile(r"^[A-Za-z_][\w-]*(?:\.[\w-]+)*$")


class ExpressionError(ValueError):
    """An expression that cannot be compiled (reported with file and line by the loader)."""


class EvaluationError(ValueError):
    """An expression that failed on a particular payload (the event becomes `unmapped`)."""


class Expression(ABC):
    text: str

    @abstractmethod
    def search(self, data: Any) -> Any:
        """The expression's value for `data`; `None` when the path is absent."""

    def emit(self, emitter: Emitter) -> str:
        """Python source for the value at the emitter's root (`compiled.py`): by default a call
        of `search`, which a subclass replaces with source that shares the emitter's lookups.
        The source may raise `EVALUATION_ERRORS`; `problem` words them as `search` does."""
        return f"{emitter.constant(self.search)}({ROOT})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.text!r})"


class PathExpression(Expression):
    __slots__ = ("_segments", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self._segments = tuple(text.split("."))

    def search(self, data: Any) -> Any:
        value = data
        for segment in self._segments:
            if isinstance(value, dict):
                value = value.get(segment)
            elif isinstance(value, list) and segment.isdecimal():
                index = int(segment)
                value = value[index] if index < len(value) else None
            else:
                return None
        return value

    def emit(self, emitter: Emitter) -> str:
        steps: list[Step] = [
            ("segment" if segment.isdecimal() else "field", segment) for segment in self._segments
        ]
        return emitter.path(steps)


class JmesExpression(Expression):
    __slots__ = ("_evaluate", "_tree", "text")

    def __init__(self, text: str, parsed: Any) -> None:
        self.text = text
        self._tree = parsed.parsed
        self._evaluate = compile_tree(self._tree, OPTIONS)

    def search(self, data: Any) -> Any:
        try:
            return self._evaluate(data)
        except EVALUATION_ERRORS as exc:
            raise EvaluationError(problem(exc)) from None

    def emit(self, emitter: Emitter) -> str:
        return emitter.expression(self._tree)


class Constant(Expression):
    __slots__ = ("text", "value")

    def __init__(self, value: Any) -> None:
        self.value = value
        self.text = repr(value)

    def search(self, data: Any) -> Any:
        return self.value

    def emit(self, emitter: Emitter) -> str:
        return emitter.constant(self.value)


EVALUATION_ERRORS = (EvaluationError, FunctionError, MoneyError, JMESPathError)
"""What evaluating an expression on a payload may raise: the payload's fault, not the code's."""


def problem(exc: Exception) -> str:
    """One of `EVALUATION_ERRORS` in a line for the user, quoting no value from the payload."""
    if isinstance(exc, JMESPathTypeError):
        # jmespath's own message quotes the value, which may be personal data.
        expected = ", ".join(exc.expected_types)
        return f"{exc.function_name}() expected {expected}, got {exc.actual_type}"
    if isinstance(exc, JMESPathError):
        return _one_line(exc)
    return str(exc)


def compile_expression(text: str) -> Expression:
    source = text.strip()
    if not source:
        raise ExpressionError("empty expression")
    if _PLAIN_PATH.match(source):
        return PathExpression(source)
    try:
        parsed = jmespath.compile(source)
        _check_calls(parsed.parsed)
        return JmesExpression(source, parsed)
    except JMESPathError as exc:
        raise ExpressionError(f"not a valid expression: {_one_line(exc)}") from None
    except RecursionError:
        raise ExpressionError("nested too deeply: split it into simpler expressions") from None


def _check_calls(node: Any) -> None:
    """Catch at load what JMESPath would only find per event: unknown names, arity, currencies."""
    if node.get("type") == "function_expression":
        name, args = node["value"], node["children"]
        if name not in FUNCTION_NAMES:
            known = ", ".join(sorted(FUNCTION_NAMES))
            raise ExpressionError(f"unknown function {name}() (known: {known})")
        expected = BridgeFunctions.FUNCTION_TABLE[name]["signature"]
        variadic = bool(expected) and expected[-1].get("variadic")
        if len(args) < len(expected) or (len(args) > len(expected) and not variadic):
            raise ExpressionError(f"{name}() takes {len(expected)} arguments, got {len(args)}")
        if name in MONEY_FUNCTIONS and args[1].get("type") == "literal":
            try:
                normalize_currency(args[1]["value"])
            except MoneyError as exc:
                raise ExpressionError(f"{name}(): {exc}") from None
    for child in node.get("children", ()):
        if isinstance(child, dict):
            _check_calls(child)


def _one_line(exc: Exception) -> str:
    return " ".join(str(exc).split())
