"""JMESPath ASTs written out as Python source, compiled once when mappings load.

jmespath's interpreter walks the tree and dispatches by node type on every evaluation. For the
node types mappings use (fields, paths, `||`, `&&`, `!`, `==`, literals, function calls) an
`Emitter` writes the Python expression that does the same work, and everything one function
evaluates against the same value shares its lookups: a rule's entries (`entries.py`) read
`data.object` once, however many of them start there. The semantics are jmespath's own (its
false values, its equality that keeps `true` and `1` apart); any other node type is handed to
jmespath's interpreter, and tests compare both on generated payloads.

Nothing from a mapping file is written into the source: field names and literals are passed in
as constants (`Emitter.constant`), so no expression can become code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Literal

from jmespath import Options
from jmespath.functions import REVERSE_TYPES_MAP, Functions
from jmespath.visitor import TreeInterpreter

Evaluate = Callable[[Any], Any]
ROOT = "root"
"""The generated functions' one argument: the value every emitted expression starts from."""

_NESTED_DEPTH = 16
"""Paths deeper than this test each step on its own line: the lookups nest an `if` block per
level, and Python's tokenizer takes 100 levels of indentation."""

_NESTED_EXPRESSIONS = 20
"""Levels of an expression written out; any deeper is evaluated by a call (`Emitter.nested`)."""

Step = tuple[Literal["field", "segment"], str]
"""One step of a path: a JMESPath field (objects only), or a plain path's segment of digits,
which also indexes an array (`lines.data.0.price`)."""


class Emitter:
    """Python source for expressions evaluated against `ROOT`, and the namespace it runs in."""

    def __init__(self, options: Options) -> None:
        self.options = options
        self.namespace: dict[str, Any] = {}
        self._paths: dict[tuple[Step, ...], str] = {(): ROOT}
        self._children: dict[tuple[Step, ...], list[tuple[Step, ...]]] = {(): []}
        self._texts: dict[str, str] = {}
        self._count = 0
        self._depth = 0

    def function(self, body: Sequence[str], name: str) -> Callable[..., Any]:
        """`def name(root): lookups; body`, compiled in this emitter's namespace."""
        source = self.source(body, name)
        exec(compile(source, f"<{name}>", "exec"), self.namespace)  # noqa: S102 - our own source
        function: Callable[..., Any] = self.namespace[name]
        return function

    def source(self, body: Sequence[str], name: str) -> str:
        lines = [f"def {name}({ROOT}):", *(f"    {line}" for line in [*self.lookups(), *body])]
        return "\n".join(lines) + "\n"

    def lookups(self, parent: tuple[Step, ...] = ()) -> list[str]:
        """The assignments of every path below `parent`, to run first: each value is tested for
        being an object once, however many fields are read from it. They cannot fail."""
        variable = self._paths[parent]
        fields = [key for key in self._children[parent] if key[-1][0] == "field"]
        lines = []
        if fields and len(parent) < _NESTED_DEPTH:
            lines.append(f"if isinstance({variable}, dict):")
            for key in fields:
                lines.append(
                    f"    {self._paths[key]} = {variable}.get({self.constant(key[-1][1])})"
                )
                lines += [f"    {line}" for line in self.lookups(key)]
            below = [self._paths[key] for key in self._paths if key[: len(parent) + 1] in fields]
            lines += ["else:", f"    {' = '.join(below)} = None"]
        for key in self._children[parent]:
            if key in fields and len(parent) < _NESTED_DEPTH:
                continue
            name = self.constant(key[-1][1])
            if key in fields:
                lookup = f"{variable}.get({name}) if isinstance({variable}, dict) else None"
            else:
                lookup = f"{self.constant(segment)}({variable}, {name})"
            lines += [f"{self._paths[key]} = {lookup}", *self.lookups(key)]
        return lines

    def constant(self, value: Any) -> str:
        """A name for `value` in the namespace (each text once)."""
        if isinstance(value, str) and value in self._texts:
            return self._texts[value]
        name = self._name("_k")
        self.namespace[name] = value
        if isinstance(value, str):
            self._texts[value] = name
        return name

    def temporary(self) -> str:
        return self._name("_t")

    def path(self, steps: Sequence[Step]) -> str:
        """A local holding the value at `steps` from the root; each prefix is looked up once."""
        key = tuple(steps)
        known = self._paths.get(key)
        if known is not None:
            return known
        self.path(key[:-1])
        variable = self._name("_p")
        self._paths[key] = variable
        self._children[key[:-1]].append(key)
        self._children[key] = []
        return variable

    def expression(self, node: dict[str, Any]) -> str:
        """Source for the value of JMESPath `node` at the root."""
        emit = _EMITTERS.get(node["type"])
        interpret = partial(self.interpreted, node, ROOT)
        return interpret() if emit is None else self.nested(partial(emit, self, node), interpret)

    def nested(self, write: Callable[[], str], instead: Callable[[], str]) -> str:
        """`write()` one level deeper, or `instead()` where Python's parser would refuse the
        depth: each level of `||` or of a call nests up to three parentheses, and it takes 200."""
        if self._depth >= _NESTED_EXPRESSIONS:
            return instead()
        self._depth += 1
        try:
            return write()
        finally:
            self._depth -= 1

    def interpreted(self, node: dict[str, Any], current: str) -> str:
        """jmespath's interpreter evaluating `node` against the value of `current`."""
        interpreter = TreeInterpreter(self.options)
        tree: Any = node  # jmespath's stubs name a node type it does not export
        visit = self.constant(lambda value: interpreter.visit(tree, value))
        return f"{visit}({current})"

    def is_false(self, variable: str, value: str) -> str:
        """Assigns `value` to `variable` and tests it for one of jmespath's false values:
        empty string, list and object, null and false (not 0, which Python finds false too)."""
        empty = self.constant((str, list, dict))
        return (
            f"(({variable} := {value}) is None or {variable} is False"
            f" or (not {variable} and isinstance({variable}, {empty})))"
        )

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"


def compile_tree(node: dict[str, Any], options: Options) -> Evaluate:
    """One expression as a function of the value it is evaluated against."""
    emitter = Emitter(options)
    value = emitter.expression(node)
    return emitter.function([f"return {value}"], "evaluate")


def segment(value: Any, name: str) -> Any:
    """A plain path's segment of digits: an index into an array, or a key of an object."""
    if isinstance(value, dict):
        return value.get(name)
    if isinstance(value, list):
        index = int(name)
        return value[index] if index < len(value) else None
    return None


def _field(emitter: Emitter, node: dict[str, Any]) -> str:
    return emitter.path([("field", node["value"])])


def _subexpression(emitter: Emitter, node: dict[str, Any]) -> str:
    children = node["children"]
    fields = 0
    while fields < len(children) and children[fields]["type"] == "field":
        fields += 1
    if len(children) - max(fields, 1) > _NESTED_EXPRESSIONS:
        return emitter.interpreted(node, ROOT)  # each step below nests two parentheses
    if fields:
        value = emitter.path([("field", child["value"]) for child in children[:fields]])
    else:
        value = emitter.expression(children[0])
        fields = 1
    for child in children[fields:]:
        if child["type"] == "field":
            current = emitter.temporary()
            name = emitter.constant(child["value"])
            value = f"({current}.get({name}) if isinstance({current} := {value}, dict) else None)"
        else:
            value = emitter.interpreted(child, value)
    return value


def _or(emitter: Emitter, node: dict[str, Any]) -> str:
    left, right = node["children"]
    matched = emitter.temporary()
    test = emitter.is_false(matched, emitter.expression(left))
    return f"({emitter.expression(right)} if {test} else {matched})"


def _and(emitter: Emitter, node: dict[str, Any]) -> str:
    left, right = node["children"]
    matched = emitter.temporary()
    test = emitter.is_false(matched, emitter.expression(left))
    return f"({matched} if {test} else {emitter.expression(right)})"


def _not(emitter: Emitter, node: dict[str, Any]) -> str:
    [operand] = node["children"]
    return f"{emitter.constant(negate)}({emitter.expression(operand)})"


def negate(value: Any) -> bool:
    """jmespath's `!`: `!0` is false, as 0 is not one of its false values."""
    if isinstance(value, int | float) and not isinstance(value, bool) and value == 0:
        return False
    return not value


def _comparator(emitter: Emitter, node: dict[str, Any]) -> str:
    operator = node["value"]
    if operator not in ("eq", "ne"):
        return emitter.interpreted(node, ROOT)  # ordering has its own type rules
    left, right = (emitter.expression(child) for child in node["children"])
    if any(_is_text_literal(child) for child in node["children"]):
        # jmespath's equality differs from Python's only between 0 or 1 and a boolean; against
        # a string constant (`status == 'paid'`, the usual `when`) it is Python's `==`.
        return f"({left} {'==' if operator == 'eq' else '!='} {right})"
    compare = emitter.constant(TreeInterpreter.COMPARATOR_FUNC[operator])
    return f"{compare}({left}, {right})"


def _is_text_literal(node: dict[str, Any]) -> bool:
    return node["type"] == "literal" and isinstance(node["value"], str)


def _literal(emitter: Emitter, node: dict[str, Any]) -> str:
    return emitter.constant(node["value"])


def _current(emitter: Emitter, node: dict[str, Any]) -> str:
    return ROOT


def _function(emitter: Emitter, node: dict[str, Any]) -> str:
    """A call with jmespath's argument checks done in line, as precomputed sets of type names;
    any other case goes through `call_function`, so arity and type errors stay jmespath's own."""
    name = node["value"]
    arguments = [emitter.expression(child) for child in node["children"]]
    functions = emitter.options.custom_functions or Functions()
    call = f"{emitter.constant(functions.call_function)}({emitter.constant(name)}, "
    spec = functions.FUNCTION_TABLE.get(name)
    allowed = _plain_argument_types(spec, len(arguments)) if spec else None
    if spec is None or allowed is None or not arguments:
        return f"{call}[{', '.join(arguments)}])"
    values = [emitter.temporary() for _ in arguments]
    evaluated = ", ".join(
        f"({value} := {argument})" for value, argument in zip(values, arguments, strict=True)
    )
    checks = " and ".join(
        f"type({value}).__name__ in {emitter.constant(names)}"
        for value, names in zip(values, allowed, strict=True)
    )
    implementation = emitter.constant(spec["function"])
    listed = ", ".join(values)
    # Every argument is evaluated before any is checked, as jmespath does.
    return (
        f"({implementation}({emitter.constant(functions)}, {listed})"
        f" if ({evaluated},) and {checks} else {call}[{listed}]))"
    )


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


_EMITTERS: dict[str, Callable[[Emitter, dict[str, Any]], str]] = {
    "field": _field,
    "subexpression": _subexpression,
    "or_expression": _or,
    "and_expression": _and,
    "not_expression": _not,
    "comparator": _comparator,
    "literal": _literal,
    "current": _current,
    "function_expression": _function,
}
