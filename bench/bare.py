"""The limit of the stack: a bare starlette POST endpoint under uvicorn, configured as bridge is.

It reads the whole body and answers a small JSON object; nothing else. uvicorn runs with the
options `bridge serve` uses (no access log, no server header, the default loop and HTTP parser:
uvloop and httptools when installed), so the ratio bridge / bare is bridge's own cost.
Usage: python -m bench.bare PORT
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

ANSWER = b'{"status":"ok"}'


async def receive(request: Request) -> Response:
    await request.body()
    return Response(ANSWER, media_type="application/json")


async def healthz(request: Request) -> Response:
    return Response(ANSWER, media_type="application/json")


app = Starlette(
    routes=[
        Route("/webhooks/{source}", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)


def main() -> None:
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        log_config=None,
        access_log=False,
        server_header=False,
    )
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main()
