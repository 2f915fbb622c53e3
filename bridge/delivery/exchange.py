"""One vendor request: sent within the concurrency limit, its answer read by the vendor's module,
redacted before anything keeps it, counted and logged."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace

import httpx

from bridge.destinations import Destination, VendorRequest, VendorResponse
from bridge.destinations.verdicts import Delivered, Retry, Verdict
from bridge.telemetry.metrics import Metrics

log = logging.getLogger("bridge.delivery")


class Exchange:
    def __init__(
        self,
        client: httpx.AsyncClient,
        concurrency: int,
        *,
        metrics: Metrics | None,
        now_ms: Callable[[], int],
    ) -> None:
        self._client = client
        self._slots = asyncio.Semaphore(concurrency)
        self._metrics = metrics
        self._now_ms = now_ms

    async def send(
        self, destination: Destination, request: VendorRequest
    ) -> tuple[list[Verdict], int, int]:
        """The verdicts on `request`, redacted, with when it was sent and how long it took."""
        async with self._slots:
            attempted_at = self._now_ms()
            started = time.perf_counter()
            verdicts: list[Verdict]
            try:
                response = await self._client.request(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=request.body,
                    timeout=destination.options.timeout_seconds,
                )
            except httpx.TimeoutException:
                reason = f"no answer within {destination.options.timeout_seconds:g}s"
                verdicts = [Retry(reason)] * len(request.items)
                status = "timeout"
            except httpx.HTTPError as exc:
                reason = f"connection failed: {type(exc).__name__}: {exc}".rstrip(": ")
                verdicts = [Retry(reason)] * len(request.items)
                status = "error"
            else:
                answer = VendorResponse(response.status_code, response.headers, response.content)
                verdicts = destination.classify(request, answer)
                status = str(response.status_code)
            elapsed = time.perf_counter() - started
            duration_ms = int(elapsed * 1000)
        if self._metrics is not None:
            labels = (destination.name, destination.vendor)
            self._metrics.vendor_requests.labels(*labels, status).inc()
            self._metrics.vendor_seconds.labels(*labels).observe(elapsed)
        redact = _redactor(destination)
        verdicts = [_redacted(redact, verdict) for verdict in verdicts]
        _log_exchange(destination, request, verdicts, duration_ms)
        return verdicts, attempted_at, duration_ms


def _redactor(destination: Destination) -> Callable[[str], str]:
    """`destination.redact`, once per distinct text: a batch's verdicts mostly share one."""
    done: dict[str, str] = {}

    def redact(text: str) -> str:
        found = done.get(text)
        if found is None:
            found = done[text] = destination.redact(text)
        return found

    return redact


def _redacted(redact: Callable[[str], str], verdict: Verdict) -> Verdict:
    """Vendor answers and error texts are stored and logged: never with a secret in them."""
    if isinstance(verdict, Delivered):
        if not verdict.answer:
            return verdict
        answer = redact(verdict.answer)
        return verdict if answer == verdict.answer else replace(verdict, answer=answer)
    reason = redact(verdict.reason)
    return verdict if reason == verdict.reason else replace(verdict, reason=reason)


def _log_exchange(
    destination: Destination, request: VendorRequest, verdicts: Sequence[Verdict], duration_ms: int
) -> None:
    first = verdicts[0] if verdicts else None
    outcome = type(first).__name__.lower() if first else "none"
    if isinstance(first, Delivered):
        outcome = first.outcome
    detail = {
        "destination": destination.name,
        "vendor": destination.vendor,
        "conversions": len(request.items),
        "outcome": outcome,
        "status": getattr(first, "status", None),
        "duration_ms": duration_ms,
    }
    if isinstance(first, Delivered):
        log.info("delivered", extra=detail)
    else:
        log.warning("delivery failed", extra={**detail, "reason": getattr(first, "reason", None)})
