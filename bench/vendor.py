"""A minimal, fast pagent stand-in: counts conversions and notes when each one arrived.

`POST /v1/conversions` takes pagent's batch body (`{"events": [...]}`), records the arrival
time (unix seconds, this machine's clock) of each `session_id` and answers `{"accepted": n}`.
`GET /arrivals` returns `{"count": n, "requests": r, "arrivals": {session_id: time}}`,
`GET /count` only the counts, `POST /reset` forgets everything.
Usage: python -m bench.vendor PORT
"""

from __future__ import annotations

import sys
import time

import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

arrivals: dict[str, float] = {}
counts = {"count": 0, "requests": 0}


def _json(value: object) -> Response:
    return Response(orjson.dumps(value), media_type="application/json")


async def conversions(request: Request) -> Response:
    body = await request.body()
    now = time.time()
    events = orjson.loads(body)["events"]
    for event in events:
        arrivals.setdefault(event["session_id"], now)
    counts["count"] += len(events)
    counts["requests"] += 1
    return _json({"accepted": len(events)})


async def arrivals_view(request: Request) -> Response:
    return _json({**counts, "arrivals": arrivals})


async def count_view(request: Request) -> Response:
    return _json(counts)


async def reset(request: Request) -> Response:
    arrivals.clear()
    counts.update(count=0, requests=0)
    return _json(counts)


app = Starlette(
    routes=[
        Route("/v1/conversions", conversions, methods=["POST"]),
        Route("/arrivals", arrivals_view, methods=["GET"]),
        Route("/count", count_view, methods=["GET"]),
        Route("/healthz", count_view, methods=["GET"]),
        Route("/reset", reset, methods=["POST"]),
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
