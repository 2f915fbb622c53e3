"""JMESPath ASTs turned into Python closures when mappings load.

jmespath's interpreter walks the tree and dispatches by node type on every evaluation; for the
handful of node types mappings use (fields, paths, `||`, `&&`, `!`, `==`, literals, function
calls) a closure per node does the same work without the walk, several times faster on the path
that answers every webhook. The semantics are jmespath's own (its false values, its equality
that keeps `true` and `1` apart); any other node type is left to jmespath's interpreter, and a
test compares both on generated payloads.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jmespath import Options
from jmespath.functions import REVERSE_TYPES_MAP, Functions
from jmespath.visitor import TreeInterpreter

Evaluate = Callable[[Any], Any]


def compile_tree(node: dict[str, Any], options: Options) -> Evaluate:
    compiler = _COMPILERS.get(node["type"])
    if compiler is None:
        return _interpreted(node, options)
    return compiler(node, options)


def _interpreted(node: dict[str, Any], options: Options) -> Evaluate:
    interpreter = TreeInterpreter(options)
    tree: Any = node  # jmespath's stubs name a node type it does not export
    return lambda value: interpreter.visit(tree, value)


def _field(node: dict[str, Any], options: Options) -> Evaluate:
    name = node["value"]

    def field(value: Any) -> Any:
        return value.get(name) if isinstance(value, dict) else None

    return field


def _path(node: dict[str, Any], options: Options) -> Evaluate:
    if all(child["type"] == "field" for child in node["children"]):
        names = tuple(_names(node))

        def path(value: Any) -> Any:
            for name in names:
                if not isinstance(value, dict):
                    return None
                value = value.get(name)
            return value

        return path
    steps = [compile_tree(child, options) for child in node["children"]]

    def chain(value: Any) -> Any:
        for step in steps:
            value = step(value)
        return value

    return chain


def _names(node: dict[str, Any]) -> list[str]:
    if node["type"] == "field":
        return [node["value"]]
    return [name for child in node["children"] for name in _names(child)]


def _or(node: dict[str, Any], options: Options) -> Evaluate:
    left, right = (compile_tree(child, options) for child in node["children"])

    def either(value: Any) -> Any:
        matched = left(value)
        return right(value) if is_false(matched) else matched

    return either


def _and(node: dict[str, Any], options: Options) -> Evaluate:
    left, right = (compile_tree(child, options) for child in node["children"])

    def both(value: Any) -> Any:
        matched = left(value)
        return matched if is_false(matched) else right(value)

    return both


def _not(node: dict[str, Any], options: Options) -> Evaluate:
    [operand] = (compile_tree(child, options) for child in node["children"])

    def negate(value: Any) -> Any:
        result = operand(value)
        if _is_number(result) and result == 0:
            return False  # jmespath: !0 is false, 0 is not a false value
        return not result

    return negate


def _comparator(node: dict[str, Any], options: Options) -> Evaluate:
    if node["value"] not in ("eq", "ne"):
        return _interpreted(node, options)  # ordering has its own type rules
    left, right = (compile_tree(child, options) for child in node["children"])
    if any(_is_text_literal(child) for child in node["children"]):
        # jmespath's equality differs from Python's only between 0 or 1 and a boolean; against
        # a string constant (`status == 'paid'`, the usual `when`) it is Python's `==`.
        if node["value"] == "eq":
            return lambda value: left(value) == right(value)
        return lambda value: left(value) != right(value)
    compare = TreeInterpreter.COMPARATOR_FUNC[node["value"]]
    return lambda value: compare(left(value), right(value))


def _is_text_literal(node: dict[str, Any]) -> bool:
    return node["type"] == "literal" and isinstance(node["value"], str)


def _literal(node: dict[str, Any], options: Options) -> Evaluate:
    constant = node["value"]
    return lambda value: constant


def _current(node: dict[str, Any], options: Options) -> Evaluate:
    return lambda value: value


def _function(node: dict[str, Any], options: Options) -> Evaluate:
    name = node["value"]
    arguments = [compile_tree(child, options) for child in node["children"]]
    functions = options.custom_functions or Functions()
    call = functions.call_function  # arity and type errors stay jmespath's own
    spec = functions.FUNCTION_TABLE.get(name)
    allowed = _plain_argument_types(spec, len(arguments)) if spec else None
    if spec is None or allowed is None:
        return lambda value: call(name, [argument(value) for argument in arguments])
    implementation = spec["function"]
    checks = tuple(zip(arguments, allowed, strict=True))

    def function(value: Any) -> Any:
        """The argument checks of `call_function`, as precomputed sets of type names."""
        values = []
        for argument, names in checks:
            result = argument(value)
            if type(result).__name__ not in names:
                return call(name, [argument(value) for argument in arguments])  # raises
            values.append(result)
        return implementation(functions, *values)

    return function


def _plain_argument_types(spec: dict[str, Any], count: int) -> list[frozenset[str]] | None:
    """Per argument, the Python type names jmespath accepts; None when a check needs more
    than the top-level type (variadic functions, typed arrays, untyped arguments)."""
    signature = spec["signature"]
    if len(signature) != count or any(parameter.get("variadic") for parameter in signature):
        return None
    allowed = []
    for parameter in signature:
        types = parameter.get("types")
        if not types or any("-" in kind for kind in types):
            return None
        allowed.append(frozenset(name for kind in types for name in REVERSE_TYPES_MAP[kind]))
    return allowed


def is_false(value: Any) -> bool:
    """jmespath's false values: empty string, list and object, null and false (not 0)."""
    return value == "" or value == [] or value == {} or value is None or value is False


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


_COMPILERS: dict[str, Callable[[dict[str, Any], Options], Evaluate]] = {
    "field": _field,
    "subexpression": _path,
    "or_expression": _or,
    "and_expression": _and,
    "not_expression": _not,
    "comparator": _comparator,
    "literal": _literal,
    "current": _current,
    "function_expression": _function,
}
