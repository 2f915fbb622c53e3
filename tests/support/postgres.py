"""A fresh schema per test on the PostgreSQL server named by BRIDGE_TEST_DATABASE_URL."""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import asyncpg
import pytest

URL_VARIABLE = "BRIDGE_TEST_DATABASE_URL"
REQUIRED_VARIABLE = "BRIDGE_TEST_REQUIRE_POSTGRES"


def server_url() -> str:
    """The server to test against; skips (or fails, when required) if there is none."""
    url = os.environ.get(URL_VARIABLE)
    if not url:
        _unavailable(
            f"{URL_VARIABLE} is not set (scripts/test starts a server when PostgreSQL is installed)"
        )
    try:
        asyncio.run(_execute(url, "SELECT 1"))
    except (OSError, asyncpg.PostgresError) as exc:
        _unavailable(f"no PostgreSQL server answers at {url}: {exc}")
    return url


@contextmanager
def fresh_schema(url: str) -> Iterator[str]:
    """A database URL whose search_path is a new, empty schema, dropped afterwards."""
    schema = f"test_{uuid.uuid4().hex[:16]}"
    asyncio.run(_execute(url, f"CREATE SCHEMA {schema}"))
    separator = "&" if "?" in url else "?"
    try:
        yield f"{url}{separator}search_path={schema}"
    finally:
        asyncio.run(_execute(url, f"DROP SCHEMA {schema} CASCADE"))


def count(url: str, sql: str) -> int:
    """The number a `SELECT COUNT(*) ...` gives on the database of `url`."""
    return asyncio.run(_fetch_count(url, sql))


async def _fetch_count(url: str, sql: str) -> int:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        return int(await connection.fetchval(sql))
    finally:
        await connection.close()


async def _execute(url: str, sql: str) -> None:
    connection = await asyncpg.connect(url, timeout=5)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def _unavailable(reason: str) -> NoReturn:
    message = f"PostgreSQL tests skipped: {reason}"
    if os.environ.get(REQUIRED_VARIABLE) == "1":
        pytest.fail(message.replace("skipped", "required but unavailable"))
    pytest.skip(message)
