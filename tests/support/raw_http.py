"""`bridge serve`'s own server, in this process, on two free ports of 127.0.0.1, spoken to
byte for byte: no client library normalises a path or a header, so a test sends exactly what a
scanner, a broken proxy or an attacker would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from bridge.runtime.settings import Settings
from bridge.web.app import BridgeApp, create_app
from bridge.web.server import bind_listeners, http_server

WAIT = 5.0
"""Longest wait for any one answer or close: a test never hangs on a server that holds on."""


@dataclass
class Running:
    app: BridgeApp
    port: int
    admin_port: int
    connections: list[Connection] = field(default_factory=list)
    """Every connection a test opened, closed when the server stops."""

    async def connect(self, port: int | None = None) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port or self.port)
        connection = Connection(reader, writer)
        self.connections.append(connection)
        return connection


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def send(self, raw: bytes) -> Answer:
        self.writer.write(raw)
        await self.writer.drain()
        return await self.answer()

    async def answer(self) -> Answer:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), WAIT)
        status_line, *lines = head.decode("latin-1").split("\r\n")[:-2]
        headers = dict(line.lower().split(": ", 1) for line in lines)
        length = int(headers.get("content-length", "0"))
        body = await asyncio.wait_for(self.reader.readexactly(length), WAIT)
        return Answer(int(status_line.split()[1]), headers, body)

    async def closed(self) -> bool:
        """True once the server closes the connection (within WAIT), with nothing more sent."""
        return await asyncio.wait_for(self.reader.read(), WAIT) == b""

    def close(self) -> None:
        self.writer.close()


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Running]:
    """`bridge serve`'s server for `settings`, on two free ports of 127.0.0.1."""
    local = settings.model_copy(
        update={"host": "127.0.0.1", "port": 0, "admin_host": "127.0.0.1", "admin_port": 0}
    )
    app = create_app(local, run_worker=False)
    listeners = bind_listeners(local)
    server = http_server(app, local, listeners)
    task = asyncio.create_task(server.serve(sockets=list(listeners)))
    async with asyncio.timeout(20):
        while not server.started:
            assert not task.done(), "the server did not start"
            await asyncio.sleep(0.01)
    ports = listeners.public.getsockname()[1], listeners.admin.getsockname()[1]
    serving = Running(app, *ports)
    try:
        yield serving
    finally:
        for connection in serving.connections:
            connection.close()
        server.should_exit = True
        await asyncio.wait_for(task, 30)


def request(
    method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> bytes:
    fields = {"Host": "127.0.0.1", "Content-Length": str(len(body)), **(headers or {})}
    head = "".join(f"{name}: {value}\r\n" for name, value in fields.items())
    return f"{method} {path} HTTP/1.1\r\n{head}\r\n".encode() + body
