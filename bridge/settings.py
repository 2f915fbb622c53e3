"""Process settings from `BRIDGE_*` environment variables (what users edit lives in mappings/)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bridge.delivery.backoff import RetryPolicy
from bridge.delivery.worker import WorkerSettings


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BRIDGE_", extra="ignore")

    host: str = Field("0.0.0.0", description="Address to listen on.")  # noqa: S104
    port: int = Field(8080, ge=0, le=65535, description="Port to listen on.")
    database_url: str = Field(
        "sqlite:///data/bridge.db", description="Where events and deliveries are stored."
    )
    database_pool_size: int = Field(
        10, ge=1, le=200, description="PostgreSQL connections per process."
    )
    mappings_dir: Path = Field(Path("mappings"), description="Directory of mapping files.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    log_format: Literal["json", "text"] = Field(
        "json", description="json for machines, text for people."
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="Larger webhook bodies get 413.")
    sqlite_busy_timeout_ms: int = Field(
        5000, ge=0, description="How long a write waits for a lock held by another process."
    )

    worker_enabled: bool = Field(True, description="Run the delivery worker inside `bridge serve`.")
    worker_poll_interval_seconds: float = Field(1.0, gt=0)
    worker_claim_limit: int = Field(500, ge=1, description="Deliveries leased per round.")
    worker_lease_seconds: float = Field(
        60.0, gt=0, description="How long a claimed delivery stays with one worker."
    )
    worker_concurrency: int = Field(8, ge=1, description="Vendor requests in flight at once.")
    worker_shutdown_grace_seconds: float = Field(10.0, ge=0)
    retry_base_seconds: float = Field(
        5.0, gt=0, description="First retry delay (doubles each time)."
    )
    retry_max_delay_seconds: float = Field(3600.0, gt=0, description="Longest delay between tries.")

    payload_retention_days: float = Field(
        7.0, gt=0, description="Raw webhook bodies are erased after this long."
    )
    dedupe_retention_days: float = Field(
        7.0, ge=7, description="Finished events (their dedupe keys) are kept this long."
    )
    retention_interval_seconds: float = Field(3600.0, gt=0)

    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for the read-only admin API under /admin; off when unset.",
    )
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics on /metrics.")

    @field_validator("admin_token", mode="before")
    @classmethod
    def _unset_or_long_enough(cls, value: object) -> object:
        """An empty value (as templating tools often leave) means unset."""
        if value is None or value == "":
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        if len(text) < 16:
            raise ValueError("must be at least 16 characters (e.g. `openssl rand -hex 32`)")
        return value

    def worker(self) -> WorkerSettings:
        return WorkerSettings(
            poll_interval_seconds=self.worker_poll_interval_seconds,
            claim_limit=self.worker_claim_limit,
            lease_seconds=self.worker_lease_seconds,
            concurrency=self.worker_concurrency,
            shutdown_grace_seconds=self.worker_shutdown_grace_seconds,
            retry=RetryPolicy(self.retry_base_seconds, self.retry_max_delay_seconds),
        )
