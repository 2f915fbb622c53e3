"""One process's moving parts, started and stopped together; the web app and the CLI share it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Any

import httpx

from bridge import __version__
from bridge.delivery.backoff import RetryPolicy
from bridge.delivery.worker import Worker, WorkerSettings
from bridge.mapping.config import load_config
from bridge.mapping.errors import MappingError
from bridge.mapping.loaded import Config
from bridge.runtime.reload import MappingWatcher
from bridge.runtime.settings import Settings
from bridge.store import Store, StoreUnavailable, open_store
from bridge.telemetry.metrics import Metrics
from bridge.use_cases.ingest import Ingestor
from bridge.use_cases.retention import run_retention
from bridge.use_cases.waiting import WaitingEvents

log = logging.getLogger("bridge")


def vendor_client(settings: Settings) -> httpx.AsyncClient:
    """One pooled client for every vendor: connections are reused across batches."""
    slots = settings.worker_concurrency
    return httpx.AsyncClient(
        follow_redirects=False,
        limits=httpx.Limits(max_connections=slots * 2, max_keepalive_connections=slots),
    )


class Bridge:
    def __init__(
        self,
        settings: Settings,
        config: Config,
        store: Store,
        worker: Worker | None = None,
        client: httpx.AsyncClient | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.settings = settings
        self.config = config
        self.store = store
        self.worker = worker
        self.metrics = metrics or Metrics()
        self._client = client
        self._background: list[asyncio.Task[None]] = []
        self.waiting: WaitingEvents | None = None
        """Settles events waiting for their identity, where the worker runs."""
        self.reload_problem: str | None = None
        """Why the last reload of the mapping files was refused (the running ones were kept)."""
        self.ingestor = self._ingestor(config)

    def _ingestor(self, config: Config) -> Ingestor:
        worker = self.worker
        return Ingestor(
            config,
            self.store,
            on_new_deliveries=worker.wake if worker else lambda: None,
            metrics=self.metrics,
            recent=worker.recent if worker else None,
            dedupe_retention_days=self.settings.dedupe_retention_days,
            identities=self.store,
        )

    async def reload(self, cause: str) -> bool:
        """Load and check the mapping files again and swap them in between requests: a request
        in flight finishes with the files it started with. A file that does not load keeps the
        running ones and says why (log, `/readyz`, a metric)."""
        try:
            config = await asyncio.to_thread(load_config, self.settings.mappings_dir)
        except MappingError as exc:
            self.reload_problem = f"{exc.issues[0]}" + (
                f" (and {len(exc.issues) - 1} more)" if len(exc.issues) > 1 else ""
            )
            self.metrics.mapping_reload_failures.inc()
            log.error(
                "mapping files not reloaded: the running ones are kept",
                extra={"cause": cause, "problems": [str(issue) for issue in exc.issues]},
            )
            return False
        self.config = config
        self.ingestor = self._ingestor(config)
        if self.worker is not None:
            self.worker.use(config.destinations)
        if self.waiting is not None:
            self.waiting.use(config)
        self.reload_problem = None
        log.info(
            "mapping files reloaded",
            extra={"cause": cause, "version": config.version, "rules": len(config.rules.rules)},
        )
        for warning in config.warnings():
            log.warning(warning)
        return True

    @classmethod
    async def start(cls, settings: Settings, *, run_worker: bool) -> Bridge:
        """Load mappings, open the store, and (optionally) start delivering."""
        config = load_config(settings.mappings_dir)
        store = await open_store(
            settings.database_url,
            busy_timeout_ms=settings.sqlite_busy_timeout_ms,
            pool_size=settings.database_pool_size,
        )
        metrics = Metrics()
        worker = client = None
        if run_worker:
            client = vendor_client(settings)
            worker = Worker(
                store, config.destinations, client, worker_settings(settings), metrics=metrics
            )
        bridge = cls(settings, config, store, worker, client, metrics)
        bridge._announce()
        if worker is not None:
            worker.start()
            bridge.waiting = WaitingEvents(
                store,
                config,
                store,
                interval_seconds=settings.identity_recheck_seconds,
                on_new_deliveries=worker.wake,
                metrics=metrics,
            )
            bridge._background.append(
                asyncio.create_task(bridge.waiting.run(), name="bridge-waiting")
            )
            bridge._background.append(
                asyncio.create_task(
                    run_retention(
                        store,
                        payload_days=settings.payload_retention_days,
                        dedupe_days=settings.dedupe_retention_days,
                        interval_seconds=settings.retention_interval_seconds,
                    ),
                    name="bridge-retention",
                )
            )
        if settings.mappings_reload_seconds > 0:
            watcher = MappingWatcher(bridge, settings.mappings_reload_seconds)
            bridge._background.append(asyncio.create_task(watcher.run(), name="bridge-mappings"))
        return bridge

    def identity_changed(self) -> None:
        """A beacon changed the ledger: events waiting for an identity are planned again now."""
        if self.waiting is not None:
            self.waiting.wake()

    async def close(self) -> None:
        if self.worker is not None:
            await self.worker.stop()
        for task in self._background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.aclose()
        await self.store.close()

    async def readiness(self) -> tuple[bool, dict[str, Any]]:
        """Ready when the store answers and mappings are loaded; waiting secrets are reported."""
        detail: dict[str, Any] = {
            "version": __version__,
            "mappings": {
                "version": self.config.version,
                "reload_problem": self.reload_problem,
                "files": len(self.config.files),
                "sources": sorted(self.config.sources),
                "destinations": sorted(self.config.destinations),
                "rules": len(self.config.rules.rules),
            },
            "worker": self.worker is not None,
            "warnings": self.config.warnings(),
        }
        try:
            await self.store.ping()
        except StoreUnavailable as exc:
            detail["store"] = f"unavailable: {exc}"
            return False, detail
        detail["store"] = "ok"
        return True, detail

    async def metrics_page(self) -> bytes:
        """Prometheus text, with the queue gauges read from the store just now."""
        now = int(time.time() * 1000)
        try:
            depths = await self.store.queue_depth(now)
        except StoreUnavailable as exc:
            log.warning("queue depth unavailable for metrics", extra={"error": str(exc)})
        else:
            self.metrics.set_queue(depths, self.config.destinations, now)
        return self.metrics.render()

    def _announce(self) -> None:
        log.info(
            "mappings loaded",
            extra={
                "files": len(self.config.files),
                "rules": len(self.config.rules.rules),
                "worker": self.worker is not None,
            },
        )
        for warning in self.config.warnings():
            log.warning(warning)


def worker_settings(settings: Settings) -> WorkerSettings:
    """The delivery worker's part of the settings."""
    return WorkerSettings(
        poll_interval_seconds=settings.worker_poll_interval_seconds,
        claim_limit=settings.worker_claim_limit,
        lease_seconds=settings.worker_lease_seconds,
        concurrency=settings.worker_concurrency,
        shutdown_grace_seconds=settings.worker_shutdown_grace_seconds,
        retry=RetryPolicy(settings.retry_base_seconds, settings.retry_max_delay_seconds),
    )
