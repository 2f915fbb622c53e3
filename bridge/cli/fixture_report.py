"""What `bridge test` compares: `bridge try`'s report seen through a fixture's expectations (its
reason substrings, its listed fields), the diff of the two, and the fixture rewritten by
`--update`."""

from __future__ import annotations

import difflib
import re
from typing import Any

import orjson
import yaml

from bridge.mapping.fixture_file import ExpectedEvent, ExpectedRule, Fixture
from bridge.mapping.yamlfile import YamlDocument

ABSENT = "(absent)"
"""What a listed field that the body does not hold is shown as."""


def expected_document(fixture: Fixture) -> list[dict[str, Any]]:
    return [
        event.model_dump(by_alias=True, exclude_defaults=True, exclude_none=True)
        for event in fixture.expect
    ]


def actual_document(report: list[dict[str, Any]], fixture: Fixture) -> list[dict[str, Any]]:
    """The trial `report` in the fixture's shape: what `expected_document` is compared with."""
    expected = list(fixture.expect)
    return [
        _event(entry, expected[index] if index < len(expected) else None)
        for index, entry in enumerate(report)
    ]


def _event(entry: dict[str, Any], expected: ExpectedEvent | None) -> dict[str, Any]:
    document: dict[str, Any] = {}
    if expected is None or expected.type is not None:
        document["type"] = entry["type"]
    rules = {
        rule["rule"]: _rule(rule, expected.rules.get(rule["rule"]) if expected else None)
        for rule in entry["rules"]
    }
    if rules:
        document["rules"] = rules
    return document


def _rule(rule: dict[str, Any], expected: ExpectedRule | None) -> dict[str, Any]:
    document: dict[str, Any] = {"outcome": rule["status"]}
    reason = rule["reason"]
    if expected is not None and expected.reason is not None:
        matched = reason is not None and expected.reason in reason
        document["reason"] = expected.reason if matched else reason
    elif expected is None and reason and rule["status"] != "converted":
        document["reason"] = reason
    requests: dict[str, Any] = {}
    for request in rule.get("requests", ()):
        name = request["destination"]
        body = _body(request["body"])
        listed = expected.requests.get(name) if expected is not None else None
        if listed is not None and listed.fields is not None:
            requests[name] = {"fields": {path: value_at(body, path) for path in listed.fields}}
        else:
            requests[name] = {"body": body}
    if requests:
        document["requests"] = requests
    return document


def _body(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def value_at(body: Any, path: str) -> Any:
    """The part of `body` at `events[0].revenue`, or `ABSENT`."""
    value = body
    for name, index in PATH_PART.findall(path):
        if name and isinstance(value, dict) and name in value:
            value = value[name]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return ABSENT
    return value


def as_yaml(document: Any) -> str:
    return yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def diff(expected: list[dict[str, Any]], actual: list[dict[str, Any]]) -> list[str]:
    """Unified diff lines, expected first; empty when they agree."""
    return list(
        difflib.unified_diff(
            as_yaml({"expect": expected}).splitlines(),
            as_yaml({"expect": actual}).splitlines(),
            "expected",
            "actual",
            lineterm="",
        )
    )


def rewritten(text: str, document: YamlDocument, actual: list[dict[str, Any]]) -> str:
    """The fixture's text with its `expect:` section replaced by `actual`; the other keys and
    their comments stay as written."""
    lines = text.splitlines(keepends=True)
    block = as_yaml({"expect": actual})
    start = document.lines.get(("expect",))
    if start is None:
        return text + ("" if text.endswith("\n") or not text else "\n") + block
    later = sorted(
        line
        for key, line in document.lines.items()
        if len(key) == 1 and line > start and key != ("expect",)
    )
    end = later[0] - 1 if later else len(lines)
    while end > start and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
        end -= 1  # the comments above the next key belong to it
    return "".join(lines[: start - 1]) + block + "".join(lines[end:])
