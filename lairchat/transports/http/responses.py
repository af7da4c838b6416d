"""JSON response bodies and the headers every API response carries (CORS, HTTP.md §6)."""

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


#: Also on every API answer: a JSON body is never sniffed as anything else, and no
#: cache keeps what answers carry (one user's rooms, messages, profile). Answers
#: that are not the API's (the browser client's files, ``/metrics``) set their own.
API_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    *CORS_HEADERS,
    (b"X-Content-Type-Options", b"nosniff"),
    (b"Cache-Control", b"no-store"),
)


def add_api_headers(request: Any) -> None:
    for name, value in API_HEADERS:
        request.setHeader(name, value)


def remove_cors_headers(request: Any) -> None:
    """For an answer meant for this origin only: no other site's page may read it."""
    for name, _ in CORS_HEADERS:
        request.responseHeaders.removeHeader(name)


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
