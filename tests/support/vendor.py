"""A real HTTP server on 127.0.0.1 standing in for a vendor: records requests, plays a script."""

from __future__ import annotations

import http.server
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Self

import orjson


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return orjson.loads(self.body)


@dataclass
class Answer:
    status: int = 200
    body: bytes = b'{"accepted": 1}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (a slow or hanging vendor)."""


class LoopbackServer:
    """An HTTP server on 127.0.0.1 in a thread; subclasses give the request handler."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        raise NotImplementedError


class LoopbackVendor(LoopbackServer):
    """Answers from `script` in order, then `default(request)` for every later request."""

    def __init__(self, default: Callable[[Received], Answer] | None = None) -> None:
        self.received: list[Received] = []
        self.acknowledged: list[Received] = []
        """Requests whose answer was fully written back to the client."""
        self._script: deque[Answer] = deque()
        self._default = default or _accept_all
        super().__init__()

    def script(self, *answers: Answer) -> None:
        with self._lock:
            self._script.extend(answers)

    def wait_for(
        self, count: int, timeout: float = 15.0, *, acknowledged: bool = False
    ) -> list[Received]:
        """Block until `count` requests arrived (or were acknowledged); fail after `timeout`."""
        deadline = time.monotonic() + timeout
        seen = self.acknowledged if acknowledged else self.received
        while time.monotonic() < deadline:
            with self._lock:
                if len(seen) >= count:
                    return list(seen)
            time.sleep(0.02)
        raise AssertionError(f"vendor got {len(seen)} requests, expected {count} within {timeout}s")

    def events(self) -> Iterator[Any]:
        """Every pagent-style event acknowledged so far (batch bodies flattened)."""
        for request in list(self.acknowledged):
            body = request.json()
            yield from body.get("events", [body])

    def _next_answer(self, request: Received) -> Answer:
        with self._lock:
            self.received.append(request)
            if self._script:
                return self._script.popleft()
        return self._default(request)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        vendor = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                request = Received(
                    "POST",
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length),
                )
                answer = vendor._next_answer(request)
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                    self.wfile.flush()
                except OSError:
                    return  # the client went away (timed out or was killed)
                with vendor._lock:
                    vendor.acknowledged.append(request)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler


def _accept_all(request: Received) -> Answer:
    body = request.json()
    count = len(body["events"]) if isinstance(body, dict) and "events" in body else 1
    return Answer(body=orjson.dumps({"accepted": count}))
