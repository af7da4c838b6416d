"""A renewed certificate is served without a restart, on a real server.

``twistd -n lairchat`` with TLS on both ports reads its certificate and key through
symlinks, as certbot's ``/etc/letsencrypt/live/`` names them, and checks them every
second (``LAIR_TLS_RELOAD_INTERVAL``'s floor; the checks themselves are unit-tested
on a Clock in test_tls_reload.py). The test points the symlinks at a renewal in two
steps, certificate first: the half-done renewal is refused (one warning, the old
certificate still served), the finished one is served to new connections on both
ports, and the connections opened before it keep working.
"""

from __future__ import annotations

import os
import socket
import ssl
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from lairchat.tls import write_dev_certificate

INTERVAL = 1.0
WAIT = 10.0


def link(target: Path, name: Path) -> None:
    """Point the symlink ``name`` at ``target`` at once, as certbot does."""
    temporary = name.with_suffix(".new")
    temporary.symlink_to(target)
    os.replace(temporary, name)


def any_certificate() -> ssl.SSLContext:
    """A client that accepts whatever it is shown: the test compares it itself."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def connect(port: int) -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=WAIT)
    return any_certificate().wrap_socket(sock, server_hostname="localhost")


def shown(port: int) -> bytes:
    """The certificate (DER) a new connection to ``port`` is shown."""
    with connect(port) as tls:
        return tls.getpeercert(binary_form=True)


def der(pem_file: Path) -> bytes:
    return ssl.PEM_cert_to_DER_cert(pem_file.read_text())


def health(tls: ssl.SSLSocket) -> bytes:
    """GET /health on a kept-alive connection: the status line."""
    tls.sendall(b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
    data = b""
    while b"\r\n\r\n" not in data:
        data += tls.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += tls.recv(65536)
    return head.split(b"\r\n", 1)[0]


def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {WAIT} s"
        time.sleep(0.05)


@pytest.fixture
def renewal(tmp_path: Path) -> Iterator[tuple[ServerProcess, Path, Path, Path]]:
    """A server on ``live/{cert,key}.pem`` -> ``archive/one/``; the renewal waits
    in ``archive/two/``. Yields (server, live folder, first cert, renewed folder)."""
    first_cert, first_key = write_dev_certificate(str(tmp_path / "archive" / "one"))
    write_dev_certificate(str(tmp_path / "archive" / "two"))
    live = tmp_path / "live"
    live.mkdir()
    link(first_cert, live / "cert.pem")
    link(first_key, live / "key.pem")
    server = ServerProcess(
        tmp_path / "server",
        LAIR_TLS_ENABLED="true",
        LAIR_TCP_TLS="true",
        LAIR_TLS_CERT_PATH=str(live / "cert.pem"),
        LAIR_TLS_KEY_PATH=str(live / "key.pem"),
        LAIR_TLS_RELOAD_INTERVAL=str(INTERVAL),
    )
    try:
        yield server, live, first_cert, tmp_path / "archive" / "two"
    finally:
        server.stop()


def test_a_renewal_reaches_new_connections_and_spares_open_ones(
    renewal: tuple[ServerProcess, Path, Path, Path],
) -> None:
    server, live, first_cert, renewed = renewal
    ports = (server.tcp_port, server.http_port)
    assert [shown(port) for port in ports] == [der(first_cert)] * 2

    old_tcp = TCPClient(connect(server.tcp_port))
    old_http = connect(server.http_port)
    assert health(old_http) == b"HTTP/1.1 200 OK"

    # Half a renewal: the new certificate, the old key.
    link(renewed / "dev-cert.pem", live / "cert.pem")
    until(lambda: "cannot be served" in server.log(), "warned about the half renewal")
    assert [shown(port) for port in ports] == [der(first_cert)] * 2

    link(renewed / "dev-key.pem", live / "key.pem")
    until(lambda: shown(server.tcp_port) == der(renewed / "dev-cert.pem"), "renewed")
    assert shown(server.http_port) == der(renewed / "dev-cert.pem")

    # Opened before the renewal: still working, on the old certificate.
    assert old_tcp.sock.getpeercert(binary_form=True) == der(first_cert)
    old_tcp.send({"type": "ping"})
    assert old_tcp.recv()["type"] == "pong"
    assert old_http.getpeercert(binary_form=True) == der(first_cert)
    assert health(old_http) == b"HTTP/1.1 200 OK"
    old_tcp.sock.close()
    old_http.close()

    log = server.log()
    assert log.count("cannot be served") == 1, log  # once, not once per check
    assert "does not match the certificate" in log
    assert log.count("tls: now serving CN=localhost") == 1, log
    assert server.alive()
