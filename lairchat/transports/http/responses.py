"""JSON response bodies and the headers every response carries (CORS, HTTP.md §6)."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson

JSON_CONTENT_TYPE = b"application/json"

#: Headers on every response. ``Expose-Headers`` is ours: without it a browser
#: cannot read the rate-limit headers (the original sends none).
CORS_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"Access-Control-Allow-Origin", b"*"),
    (
        b"Access-Control-Expose-Headers",
        b"X-RateLimit-Limit, X-RateLimit-Remaining, X-RateLimit-Reset, Retry-After",
    ),
)


def add_cors_headers(request: Any) -> None:
    for name, value in CORS_HEADERS:
        request.setHeader(name, value)


def json_body(request: Any, status: int, body: Any) -> bytes:
    """Set ``status`` and the JSON content type on ``request``; return the encoded body.

    Compact JSON with non-ASCII characters written raw, like the original.
    """
    data = orjson.dumps(body)
    # With its reason phrase: Twisted's table lacks 422, 426 and 429 ("Unknown Status").
    request.setResponseCode(status, HTTPStatus(status).phrase.encode("ascii"))
    request.setHeader(b"Content-Type", JSON_CONTENT_TYPE)
    request.setHeader(b"Content-Length", str(len(data)).encode("ascii"))
    return data
