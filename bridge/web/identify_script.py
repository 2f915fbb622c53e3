"""`GET /identify.js`: the browser half of the identity ledger, served as the file it is.

The script is read and gzipped once at import; each request only compares an ETag and picks
one of two byte strings. Its version is the first 12 hex of its sha256: the ETag, and the
`?v=` a site may add so a new release reaches browsers that cached the old one.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib.resources import files

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SCRIPT = (files("bridge") / "identity" / "identify.js").read_bytes()
VERSION = hashlib.sha256(SCRIPT).hexdigest()[:12]
GZIPPED = gzip.compress(SCRIPT, compresslevel=9, mtime=0)

MAX_AGE = "public, max-age=3600"
"""An hour: a new release reaches every visitor within an hour even without `?v=`."""
IMMUTABLE = "public, max-age=31536000, immutable"
"""`?v=<this version>` names these exact bytes, so a browser may keep them for a year."""

PLAIN_TAG = f'"{VERSION}"'
GZIP_TAG = f'"{VERSION}-gzip"'  # another representation of the same version: another ETag


def accepts_gzip(request: Request) -> bool:
    return "gzip" in request.headers.get("accept-encoding", "").lower()


def matches(if_none_match: str, etag: str) -> bool:
    """RFC 9110's weak comparison: `W/` prefixes are ignored, `*` matches anything."""
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


async def identify_script(request: Request) -> Response:
    gzipped = accepts_gzip(request)
    etag = GZIP_TAG if gzipped else PLAIN_TAG
    headers = {
        "ETag": etag,
        "Cache-Control": IMMUTABLE if request.query_params.get("v") == VERSION else MAX_AGE,
        "Vary": "Accept-Encoding",
        # Lets a site load it with `crossorigin` and Subresource Integrity: it is public anyway.
        "Access-Control-Allow-Origin": "*",
        "X-Content-Type-Options": "nosniff",
    }
    if matches(request.headers.get("if-none-match", ""), etag):
        return Response(status_code=304, headers=headers)
    if gzipped:
        headers["Content-Encoding"] = "gzip"
    return Response(
        GZIPPED if gzipped else SCRIPT,
        headers=headers,
        media_type="text/javascript; charset=utf-8",
    )


identify_script_route = Route("/identify.js", identify_script, methods=["GET"])
"""The public port's route (starlette answers HEAD for a GET route)."""
