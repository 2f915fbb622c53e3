"""Process settings from `BRIDGE_*` environment variables (what users edit lives in mappings/)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="BRIDGE_",
        extra="ignore",
        hide_input_in_errors=True,  # an error never repeats a value: it may be a token
        validate_assignment=True,  # a command-line flag is checked as its variable is
    )

    host: str = Field("0.0.0.0", description="Address to listen on.")  # noqa: S104
    port: int = Field(8080, ge=0, le=65535, description="Port for webhooks and probes.")
    admin_host: str = Field(
        "127.0.0.1", description="Address of the admin port (/admin, /metrics, detailed /readyz)."
    )
    admin_port: int | None = Field(
        None, ge=0, le=65535, description="Admin port; unset: the webhook port plus one."
    )
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
    header_timeout_seconds: float = Field(
        10.0, gt=0, description="From connection (or a request's first byte) to its last header."
    )
    body_timeout_seconds: float = Field(
        20.0, gt=0, description="From a request's last header to its last body byte; then 408."
    )
    max_connections: int = Field(
        256, ge=1, description="Open connections at once; a request on any more gets 503."
    )
    max_headers: int = Field(100, ge=10, description="Header fields per request; more get 431.")
    max_header_bytes: int = Field(
        16384, ge=1024, description="Bytes of request line and headers; more get 431."
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
    mappings_reload_seconds: float = Field(
        2.0,
        ge=0,
        le=3600,
        description="How often the mappings directory is checked for changed files, which are"
        " then loaded and swapped in (0: only on SIGHUP).",
    )
    identity_recheck_seconds: float = Field(
        5.0,
        gt=0,
        le=3600,
        description="How often the worker plans events waiting for their identity again"
        " (a beacon that changes the ledger also starts a pass at once).",
    )

    admin_token: SecretStr | None = Field(
        None,
        description="Bearer token for the read-only admin API under /admin; off when unset.",
    )
    metrics_enabled: bool = Field(True, description="Serve Prometheus metrics on /metrics.")

    identify_rate: float = Field(
        10.0, gt=0, description="Beacons a second one client may post to /identify; then 429."
    )
    identify_burst: int = Field(
        20, ge=1, description="Beacons one client may post at once before the rate applies."
    )
    identify_trust_forwarded: bool = Field(
        False,
        description="Rate-limit /identify by the first X-Forwarded-For address, not the peer's"
        " (only behind a proxy that sets the header itself).",
    )

    @field_validator("admin_token", mode="before")
    @classmethod
    def _unset_or_hard_to_guess(cls, value: object) -> object:
        """An empty value (as templating tools often leave) means unset; anything else must be
        a token nobody guesses and everybody can type (errors never repeat the value)."""
        if value is None or value == "":
            return None
        text = value.get_secret_value() if isinstance(value, SecretStr) else str(value)
        problem = admin_token_problem(text)
        if problem is not None:
            raise ValueError(f"{problem}; use a random value such as `openssl rand -hex 32`")
        return value

    @field_validator("admin_port", mode="after")
    @classmethod
    def _apart_from_the_webhook_port(cls, value: int | None, info: ValidationInfo) -> int | None:
        port = info.data.get("port")
        if value is None and port == 65535:
            raise ValueError("must be set when BRIDGE_PORT is 65535 (the default is one more)")
        if value and value == port:
            raise ValueError("must differ from BRIDGE_PORT")
        return value

    def admin_listen_port(self) -> int:
        """`admin_port`, or the webhook port plus one (0, any free port, stays 0)."""
        if self.admin_port is not None:
            return self.admin_port
        return self.port + 1 if self.port else 0


ADMIN_TOKEN_MIN_LENGTH = 16
ADMIN_TOKEN_MIN_BITS = 64


def admin_token_problem(token: str) -> str | None:
    """Why `token` is refused as the admin token, or None.

    Strength is estimated as length x log2(distinct characters): what a random string of that
    length over that alphabet would hold. It is generous to patterns (`abcd...`) but refuses
    the tokens people type by hand (`aaaa...`, `abab...`) and anything shorter than 16."""
    if not token.strip():
        return "is blank"
    if not token.isprintable() or any(character.isspace() for character in token):
        return "contains spaces, line breaks or control characters (a trailing newline?)"
    if len(token) < ADMIN_TOKEN_MIN_LENGTH:
        return f"must be at least {ADMIN_TOKEN_MIN_LENGTH} characters"
    if len(token) * math.log2(len(set(token))) < ADMIN_TOKEN_MIN_BITS:
        return "is too easy to guess (too few different characters)"
    return None
