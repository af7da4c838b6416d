"""Requests over Twisted's limits against a real server, raw bytes over loopback TCP.

A request line over 16 KiB used to be closed with no answer at all, and headers over
16 KiB got a bare ``400 Bad Request``: a client could not tell why. Each now gets
its own status (414, 431) with the API's JSON error body, then a close, on HTTP and
HTTPS alike, on API routes and on the ``/ws`` upgrade.
"""

from __future__ import annotations

import json
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess
from lairchat.tls import write_dev_certificate

LONG_QUERY = b"GET /api/v1/messages/search?q=" + b"a" * 20_480 + b" HTTP/1.1\r\nHost: x\r\n\r\n"
LARGE_HEADER = b"X-Padding: " + b"a" * 20_480 + b"\r\n"


def start(tmp: Path, tls: bool) -> tuple[ServerProcess, ssl.SSLContext | None]:
    if not tls:
        return ServerProcess(tmp), None
    cert, key = write_dev_certificate(str(tmp))
    server = ServerProcess(
        tmp,
        LAIR_TLS_ENABLED="true",
        LAIR_TLS_CERT_PATH=str(cert),
        LAIR_TLS_KEY_PATH=str(key),
    )
    return server, ssl.create_default_context(cafile=str(cert))


@pytest.fixture(scope="module", params=[False, True], ids=["http", "https"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[ServerProcess, ssl.SSLContext | None]]:
    srv, context = start(tmp_path_factory.mktemp("http-limits"), request.param)
    yield srv, context
    srv.stop()


def exchange(server: tuple[ServerProcess, ssl.SSLContext | None], data: bytes) -> bytes:
    """Send ``data`` at once and read everything until the server closes."""
    process, context = server
    sock = socket.create_connection(("127.0.0.1", process.http_port), timeout=10)
    if context is not None:
        sock = context.wrap_socket(sock, server_hostname="localhost")
    with sock:
        sock.sendall(data)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def refused(answer: bytes) -> tuple[int, dict]:
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    assert headers["Content-Type"] == "application/json"
    assert headers["Connection"] == "close"
    assert int(headers["Content-Length"]) == len(body)
    return int(lines[0].split()[1]), json.loads(body)["error"]


@pytest.mark.parametrize(
    ("request_bytes", "status", "code"),
    [
        (LONG_QUERY, 414, "uri_too_long"),
        (b"GET /health HTTP/1.1\r\nHost: x\r\n" + LARGE_HEADER + b"\r\n", 431, "headers_too_large"),
        (
            b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            + LARGE_HEADER
            + b"\r\n",
            431,
            "headers_too_large",
        ),
        (b"GET /ws?token=" + b"a" * 20_480 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
    ],
    ids=["search-query", "header", "ws-upgrade-header", "ws-upgrade-uri"],
)
def test_a_request_over_the_limits_is_answered_then_closed(
    server: tuple[ServerProcess, ssl.SSLContext | None],
    request_bytes: bytes,
    status: int,
    code: str,
) -> None:
    answer = exchange(server, request_bytes)
    answered, error = refused(answer)
    assert (answered, error["code"]) == (status, code), answer[:300]
    # The server is still there for the next client.
    assert exchange(server, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n").startswith(
        b"HTTP/1.1 200 "
    )
