"""Every sender kind in the registry, behind `bridge serve` on 127.0.0.1 (on SQLite, then on
PostgreSQL, which refuses data SQLite keeps), fed genuine requests
(signed for real with the sender's scheme) that carry hostile values: nested a thousand levels
deep, integers past 64 bits, digits of other scripts, NUL, times outside what a datetime holds,
the wrong JSON type, in any field of the sender's sample and in its signed timestamp header.

Properties: never a 5xx; nothing stored on a 4xx; the same HTTP connection answers the next
request. Derandomized and bounded (`EXAMPLES` per sender), so CI runs the same cases each time.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bridge.sources import SOURCE_KINDS
from tests.support import postgres
from tests.support.process import BridgeProcess
from tests.support.senders import SENDERS, Sender, shipped_mappings

EXAMPLES = 100
"""Cases per sender kind and store: the twelve kinds run in about ten seconds on each."""
ANSWERS: Counter[str] = Counter()
MARKER = "__hostile_value__"

ODD_VALUES = [
    '"0001-01-01T00:00:00+05:00"',
    '"9999-12-31T23:59:59-23:59"',
    '"0001-01-01T00:00:00+23:59"',
    '"2026-13-45T25:61:00Z"',
    "100000000000000000",
    "-100000000000000000",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "10000000000000000000",
    '"\\u00b2"',
    '"\\u00b9\\u00b2\\u00b3"',
    '"\\uff11\\uff12\\uff13"',
    '"\\u0661\\u0662"',
    '"-5.00"',
    '"-9223372036854775808"',
    '"a\\u0000b"',
    '"\\u0000"',
    '"tab\\tand\\nline"',
    '"' + "9" * 5000 + '"',
    '"NaN"',
    '"Infinity"',
    '"1e3"',
    "1e308",
    "-0.0",
    "true",
    "false",
    "null",
    "{}",
    "[]",
    '""',
]
HOSTILE_JSON = st.one_of(
    st.sampled_from(ODD_VALUES),
    st.integers(-(2**64), 2**64).map(str),
    st.text(max_size=12).map(json.dumps),
    st.integers(60, 1100).map(lambda n: "[" * n + "]" * n),
    st.integers(60, 1100).map(lambda n: '{"a":' * n + "1" + "}" * n),
    st.floats(allow_nan=False, allow_infinity=False).map(json.dumps),
)
HOSTILE_TEXT = st.one_of(  # XML text: what an element may hold
    st.sampled_from(
        [
            "0001-01-01T00:00:00+05:00",
            "9999-12-31T23:59:59-23:59",
            "\u00b2",
            "\uff11\uff12\uff13",
            "-5.00",
            "-9223372036854775808",
            "1" + "0" * 19,
            "9" * 5000,
            "NaN",
            "",
        ]
    ),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=12),
    st.integers(60, 1100).map(lambda n: "<a>" * n + "x" + "</a>" * n),
)
HOSTILE_STAMPS = st.sampled_from(
    [
        "\u00b2",
        "\u00b9\u00b2\u00b3",
        "\uff11\uff12\uff13",
        "9" * 5000,
        "-1",
        "0",
        "1e3",
        "+5",
        "1_0",
    ]
)


@dataclass
class Bridge:
    process: BridgeProcess
    connection: http.client.HTTPConnection
    postgres_url: str | None
    """The store's database when it is PostgreSQL (else the process's SQLite file)."""

    def events(self) -> int:
        if self.postgres_url is not None:
            return postgres.count(self.postgres_url, "SELECT COUNT(*) FROM events")
        [(count,)] = self.process.rows("SELECT COUNT(*) FROM events")
        return int(count)


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def bridge(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Bridge]:
    """`bridge serve` on either store: data PostgreSQL refuses must not be an outage."""
    work = tmp_path_factory.mktemp("signed-hostile")
    folder = work / "mappings"
    environ = {
        **shipped_mappings(folder),
        "BRIDGE_MAPPINGS_DIR": str(folder),
        "BRIDGE_WORKER_ENABLED": "false",
    }
    with contextlib.ExitStack() as stack:
        url = None
        if request.param == "postgres":
            url = stack.enter_context(postgres.fresh_schema(postgres.server_url()))
            environ["BRIDGE_DATABASE_URL"] = url
        process = BridgeProcess(work, environ).start()
        stack.callback(process.stop)
        connection = http.client.HTTPConnection("127.0.0.1", process.port, timeout=10)
        stack.callback(connection.close)
        yield Bridge(process, connection, url)
    answers = ", ".join(f"{answer} {n}" for answer, n in sorted(ANSWERS.items()))
    print(
        f"\nfuzz ({request.param}): {ANSWERS.total()} signed requests with hostile values:"
        f" {answers}; 5xx 0"
    )
    ANSWERS.clear()


def test_every_sender_kind_in_the_registry_is_fuzzed() -> None:
    assert set(SENDERS) == set(SOURCE_KINDS)


def json_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document a value sits, containers included."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    paths: list[tuple[Any, ...]] = []
    for key, child in items:
        paths.append((*prefix, key))
        if isinstance(child, dict | list):
            paths.extend(json_paths(child, (*prefix, key)))
    return paths


def json_body(sender: Sender, data: st.DataObject) -> bytes:
    document = orjson.loads(sender.sample(data.draw(st.integers(0, len(sender.samples) - 1))))
    chosen = data.draw(st.lists(st.sampled_from(json_paths(document)), min_size=1, max_size=3))
    replacements: dict[str, str] = {}
    for number, path in enumerate(chosen):
        target = document
        try:
            for key in path[:-1]:
                target = target[key]
            target[path[-1]] = f"{MARKER}{number}"
        except (KeyError, IndexError, TypeError):
            continue  # an earlier choice replaced a container on this path
        replacements[f'"{MARKER}{number}"'] = data.draw(HOSTILE_JSON)
    body = orjson.dumps(document).decode()
    for marker, raw in replacements.items():
        body = body.replace(marker, raw)
    return body.encode()


def xml_body(sender: Sender, data: st.DataObject) -> bytes:
    text = sender.sample().decode()
    names = ["OrganizationId", *re.findall(r"<sf:(\w+)>", text)]
    for name in data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True)):
        value = data.draw(HOSTILE_TEXT)
        escaped = (
            value if value.startswith("<a>") else value.replace("&", "&amp;").replace("<", "&lt;")
        )
        opening = f"<sf:{name}>" if f"<sf:{name}>" in text else f"<{name}>"
        start = text.index(opening) + len(opening)
        end = text.index("</", start)
        text = text[:start] + escaped + text[end:]
    return text.encode()


def post(bridge: Bridge, sender: Sender, body: bytes, stamp: str) -> http.client.HTTPResponse:
    path = f"/webhooks/{sender.source}"
    url = f"http://127.0.0.1:{bridge.process.port}{path}"
    signed = sender.sign(body, stamp, url)
    headers = {name: value.encode() for name, value in signed.headers.items()}
    bridge.connection.request("POST", path + signed.query, body=body, headers=headers)
    return bridge.connection.getresponse()


@pytest.mark.parametrize("kind", sorted(SENDERS))
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_signed_request_with_hostile_values_is_answered_and_leaves_the_connection_open(
    bridge: Bridge, kind: str, data: st.DataObject
) -> None:
    sender = SENDERS[kind]
    xml = sender.samples[0].endswith(".xml")
    body = xml_body(sender, data) if xml else json_body(sender, data)
    stamp = sender.now()
    if sender.per_second is not None and data.draw(st.integers(0, 4)) == 0:
        stamp = data.draw(HOSTILE_STAMPS)
    before = bridge.events()
    response = post(bridge, sender, body, stamp)
    answer = response.read()
    ANSWERS[str(response.status)] += 1
    assert response.status < 500, (kind, response.status, answer[:300])
    if response.status >= 400:
        assert bridge.events() == before, (kind, response.status, answer[:300])
    socket = bridge.connection.sock
    bridge.connection.request("GET", "/healthz")
    following = bridge.connection.getresponse()
    following.read()
    assert following.status == 200
    assert bridge.connection.sock is socket, "the connection was closed after the answer"


def test_the_fuzz_reaches_past_every_senders_signature(bridge: Bridge) -> None:
    """The cases above prove something only if genuine requests are accepted: the sample of
    every sender, signed the same way, is answered 200 (and stored)."""
    for kind, sender in sorted(SENDERS.items()):
        response = post(bridge, sender, sender.sample(), sender.now())
        answer = response.read()
        assert response.status == 200, (kind, answer[:300])
