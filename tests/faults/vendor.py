"""A vendor on 127.0.0.1 that fails on purpose, and counts what it accepted by conversion.

Each request gets one of the faults below, chosen by a plan from its sequence number. The
vendor counts a conversion as received only when it answered that request 2xx: that is when a
real vendor would have processed it. A conversion is identified by its `session_id`, which the
fault tests make unique per event.
"""

from __future__ import annotations

import http.server
import socket
import struct
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import orjson

from tests.support.vendor import LoopbackServer

Fault = Literal["ok", "500", "429", "hang", "reset", "slow"]
FAULTS: tuple[Fault, ...] = ("500", "429", "hang", "reset", "slow")


@dataclass(frozen=True)
class Exchange:
    """One request as the vendor saw it."""

    index: int
    fault: Fault
    received_at: float
    """`time.monotonic()` when the request had been read."""
    conversions: tuple[str, ...]
    status: int | None
    """The status answered, or None for a reset."""

    @property
    def accepted(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True)
class Timing:
    retry_after_seconds: int = 2
    slow_seconds: float = 0.3
    """A slow answer: well inside the destination's timeout."""
    hang_seconds: float = 3.5
    """A hang: longer than the destination's timeout; then answered 504, never processed."""
    ok_delay_seconds: float = 0.0


class FaultyVendor(LoopbackServer):
    def __init__(self, plan: Callable[[int], Fault], timing: Timing | None = None) -> None:
        self.exchanges: list[Exchange] = []
        self._plan = plan
        self._timing = timing or Timing()
        self._count = 0
        super().__init__()

    def history(self) -> list[Exchange]:
        with self._lock:
            return list(self.exchanges)

    def accepted(self) -> Counter[str]:
        """How many times each conversion was answered 2xx."""
        return Counter(c for e in self.history() if e.accepted for c in e.conversions)

    def faults_injected(self) -> Counter[str]:
        return Counter(e.fault for e in self.history() if e.fault != "ok")

    def _record(self, fault: Fault, received_at: float, body: bytes, status: int | None) -> None:
        try:
            events = orjson.loads(body)["events"]
            conversions = tuple(str(event["session_id"]) for event in events)
        except (orjson.JSONDecodeError, KeyError, TypeError):
            conversions = ()
        with self._lock:
            self.exchanges.append(
                Exchange(len(self.exchanges), fault, received_at, conversions, status)
            )

    def _next_fault(self) -> Fault:
        with self._lock:
            index, self._count = self._count, self._count + 1
        return self._plan(index)

    def _handler(self) -> type[http.server.BaseHTTPRequestHandler]:
        vendor = self
        timing = self._timing

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                received_at = time.monotonic()
                fault = vendor._next_fault()
                if fault == "reset":
                    vendor._record(fault, received_at, body, None)
                    # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                    )
                    self.connection.close()
                    self.close_connection = True
                    return
                status = 200
                headers: dict[str, str] = {}
                answer: dict[str, Any] = {"accepted": 1}
                if fault == "500":
                    status, answer = 500, {"error": "internal error"}
                elif fault == "429":
                    status, answer = 429, {"error": "rate limited"}
                    headers["Retry-After"] = str(timing.retry_after_seconds)
                elif fault == "hang":
                    time.sleep(timing.hang_seconds)
                    status, answer = 504, {"error": "gateway timeout"}
                elif fault == "slow":
                    time.sleep(timing.slow_seconds)
                elif timing.ok_delay_seconds:
                    time.sleep(timing.ok_delay_seconds)
                vendor._record(fault, received_at, body, status)
                self._answer(status, headers, orjson.dumps(answer))

            def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
                try:
                    self.send_response(status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                    self.wfile.flush()
                except OSError:
                    self.close_connection = True  # the client gave up (timed out or was killed)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler
