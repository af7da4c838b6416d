"""Every kind of listening endpoint, on a real server: ``tcp:`` with an interface,
``ssl:``, ``unix:``, TLS settings around a Unix socket, and ``haproxy:`` (the PROXY
protocol). ``systemd:`` is in test_ops_systemd.py; nginx in test_ops_nginx.py."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import ssl
import stat
import time
import uuid
from pathlib import Path

import pytest

from lairchat.testing import free_port
from lairchat.testing_clients import ServerClosed, closed_at_once
from lairchat.tls import write_dev_certificate
from lairchat.transports.tcp import CLOSE_GRACE
from tests.integration.test_ops_support import (
    TIMEOUT,
    Server,
    TCPClient,
    UnixHTTPConnection,
    closing_all,
    free_ports,
    http_request,
    wait_until,
)


@pytest.fixture
def certs(tmp_path: Path) -> tuple[Path, Path, ssl.SSLContext]:
    cert, key = write_dev_certificate(str(tmp_path / "certs"))
    return cert, key, ssl.create_default_context(cafile=str(cert))


def unix_get(path: Path, url: str, tls: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    conn = UnixHTTPConnection(str(path))
    if tls is not None:
        conn.connect()
        conn.sock = tls.wrap_socket(conn.sock, server_hostname="localhost")
    status, _, body = http_request(0, "GET", url, connection=conn)
    conn.close()
    return status, body


def ssl_tcp_server(tmp_path: Path, certs, request, **env: str) -> Server:
    """A server whose TCP port speaks TLS (an ``ssl:`` endpoint), with ``env`` added."""
    cert, key, _ = certs
    tcp_port, http_port = free_ports(2)
    server = Server(
        tmp_path / "server",
        env={
            "LAIR_TCP_ENDPOINT": (
                f"ssl:{tcp_port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
            ),
            **env,
        },
        ports=(tcp_port, http_port),
    )
    request.addfinalizer(server.stop)
    return server


def test_a_tls_client_that_never_shakes_hands_is_dropped(tmp_path: Path, certs, request) -> None:
    """The handshake timeout closes the connection, but under TLS a close waits for
    the TLS handshake: a socket that never began one stayed open for good. It is
    aborted CLOSE_GRACE seconds after the close."""
    server = ssl_tcp_server(tmp_path, certs, request, LAIR_HANDSHAKE_TIMEOUT="1")
    with socket.create_connection(("127.0.0.1", server.tcp_port), timeout=15) as idle:
        started = time.monotonic()
        with contextlib.suppress(ConnectionResetError):
            assert idle.recv(1) == b""
        assert time.monotonic() - started < 1 + CLOSE_GRACE + 3


def test_ssl_tcp_port_and_unix_http_socket(tmp_path: Path, certs, request) -> None:
    cert, key, context = certs
    tcp_port = free_port()
    sock = tmp_path / "http.sock"
    server = Server(
        tmp_path / "server",
        env={
            "LAIR_TCP_ENDPOINT": (
                f"ssl:{tcp_port}:interface=127.0.0.1:privateKey={key}:certKey={cert}"
            ),
            "LAIR_HTTP_ENDPOINT": f"unix:{sock}:mode=660",
        },
        ports=(tcp_port, 0),
        wait=False,
    )
    request.addfinalizer(server.stop)
    wait_until(sock.exists, "for the Unix socket", 30, server.process)
    wait_until(lambda: _unix_ready(sock), "for /ready on the Unix socket", 30, server.process)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o660
    status, body = unix_get(sock, "/health")
    assert status == 200 and b"healthy" in body
    assert unix_get(sock, "/api/v1/rooms")[0] == 401  # logged at info (probes at debug)

    client = TCPClient.connect(tcp_port, tls=context)
    with closing_all(client):
        client.register(f"tls_{uuid.uuid4().hex[:8]}")
    # Plaintext on the TLS port gets no server_hello.
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=TIMEOUT) as raw:
        raw.sendall(b"\x00\x00\x00\x02{}")
        with pytest.raises((ServerClosed, OSError, ValueError)):
            TCPClient(raw)  # reads server_hello
    assert 'unix "GET /api/v1/rooms" 401' in server.output()  # the client of a Unix socket


def _unix_ready(sock: Path) -> bool:
    try:
        return unix_get(sock, "/ready")[0] == 200
    except OSError:
        return False


def test_tls_settings_wrap_an_explicit_endpoint(tmp_path: Path, certs, request) -> None:
    """LAIR_TLS_ENABLED around a Unix socket (as it would around a systemd socket)."""
    cert, key, context = certs
    sock = tmp_path / "https.sock"
    server = Server(
        tmp_path / "server",
        env={
            "LAIR_TLS_ENABLED": "true",
            "LAIR_TLS_CERT_PATH": str(cert),
            "LAIR_TLS_KEY_PATH": str(key),
            "LAIR_HTTP_ENDPOINT": f"unix:{sock}",
        },
        wait=False,
    )
    request.addfinalizer(server.stop)
    wait_until(sock.exists, "for the Unix socket", 30, server.process)

    def ready() -> bool:
        try:
            return unix_get(sock, "/ready", tls=context)[0] == 200
        except OSError:
            return False

    wait_until(ready, "for /ready over TLS", 30, server.process)
    # The TCP port stays plaintext unless LAIR_TCP_TLS says otherwise.
    client = server.tcp()
    client.close()


def test_proxy_protocol_prefix(tmp_path: Path, request) -> None:
    tcp_port, http_port = free_ports(2)
    server = Server(
        tmp_path,
        env={"LAIR_TCP_ENDPOINT": f"haproxy:tcp:{tcp_port}:interface=127.0.0.1"},
        ports=(tcp_port, http_port),
    )
    request.addfinalizer(server.stop)
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=TIMEOUT) as raw:
        raw.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 40000 8080\r\n")
        assert TCPClient(raw).server_hello["type"] == "server_hello"
    wait_until(
        lambda: "tcp connection opened from 198.51.100.7:40000" in server.output(),
        "for the connection line with the proxied address",
    )
    # Without the header, nothing is said and the connection is dropped.
    with socket.create_connection(("127.0.0.1", tcp_port), timeout=TIMEOUT) as raw:
        raw.sendall(b"\x00\x00\x00\x02{}")
        with pytest.raises(ServerClosed):
            TCPClient(raw)  # reads server_hello
    assert "dropped: no PROXY protocol header" in server.output()


def _healthy(http_port: int) -> bool:
    """Whether ``GET /health`` answers 200. Until the server has seen the freed
    connections close, a new one is still refused (reset): not yet, not a failure."""
    try:
        return http_request(http_port, "GET", "/health")[0] == 200
    except ConnectionError:
        return False


def test_connection_caps_refuse_quietly_on_tls_and_http(tmp_path: Path, certs, request) -> None:
    """Past LAIR_TCP_MAX_CONNECTIONS (here on an ``ssl:`` port) and
    LAIR_HTTP_MAX_CONNECTIONS, a connection is closed at once, with no traceback in
    the log; a freed slot is taken again."""
    context = certs[2]
    server = ssl_tcp_server(
        tmp_path, certs, request, LAIR_TCP_MAX_CONNECTIONS="1", LAIR_HTTP_MAX_CONNECTIONS="2"
    )
    tcp_port = server.tcp_port

    # The start-up probe's connection may still hold the one slot for a moment.
    first = None
    for _ in range(100):
        with contextlib.suppress(OSError, ServerClosed):
            first = TCPClient.connect(tcp_port, tls=context)  # says server_hello
            break
        time.sleep(0.02)
    assert first is not None, "the start-up probe's slot was never freed"
    with closing_all(first), pytest.raises((ssl.SSLError, OSError, ServerClosed)):
        TCPClient.connect(tcp_port, tls=context)

    idle = [socket.create_connection(("127.0.0.1", server.http_port)) for _ in range(2)]
    try:
        wait_until(
            lambda: closed_at_once(server.http_port, 1.0), "the HTTP cap", 10, server.process
        )
        for _ in range(3):  # counted in the refusal window, not logged one by one
            assert closed_at_once(server.http_port, 5.0)  # returns at the close
    finally:
        for sock in idle:
            sock.close()
    wait_until(
        lambda: _healthy(server.http_port),
        "a freed HTTP slot",
        10,
        server.process,
    )
    log = server.output()
    assert "tcp connection from" in log and "refused: limit reached" in log
    assert "http connection from" in log
    assert "Traceback" not in log and "Unhandled" not in log
    metrics = http_request(server.http_port, "GET", "/metrics")[2].decode()
    for listener in ("tcp", "http"):
        line = (
            f'lair_chat_connections_refused_total{{listener="{listener}",reason="limit reached"}}'
        )
        counted = [ln for ln in metrics.splitlines() if ln.startswith(line)]
        assert counted and float(counted[0].split()[-1]) >= 1, (listener, counted)
    # Stopped before the 10 s window ends: its count is logged all the same.
    server.signal(signal.SIGTERM)
    server.wait_exit()
    assert re.search(
        r"\d+ more http connections refused in [\d.]+ s: limit reached", server.output()
    )
