"""The web app with its real lifespan (store, mappings), spoken to in-process over ASGI."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette

from bridge.web.app import BridgeApp


@asynccontextmanager
async def serving(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """The app with its real lifespan (store, mappings), spoken to over ASGI."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bridge.test") as client:
            yield client


@asynccontextmanager
async def admin_client(app: BridgeApp) -> AsyncIterator[httpx.AsyncClient]:
    """The admin port's app of a started `app` (run inside `serving(app)`), over ASGI."""
    transport = httpx.ASGITransport(app=app.admin)
    async with httpx.AsyncClient(transport=transport, base_url="http://bridge.test") as client:
        yield client
