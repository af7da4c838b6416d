"""TLS on both ports, with the development certificate of ``lairchat certs dev``.

A real server (``twistd -n lairchat``) with ``LAIR_TLS_ENABLED`` (HTTPS and WSS on the
HTTP port) and ``LAIR_TCP_TLS`` (the real-time TCP port inside TLS), checked with the
standard library's ``ssl`` verifying against the certificate:

- HTTPS ``/health`` answers, and the certificate is checked (host names included);
- TLS 1.2 and 1.3 are spoken; TLS 1.0 and 1.1 are refused by the server (its
  ``protocol_version`` alert), on both ports;
- the TCP port sends ``server_hello`` inside TLS, and nothing in plaintext;
- a missing, unreadable or mismatched certificate or key stops the start with one
  line naming the file, and a non-zero exit.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

import orjson
import pytest

from lairchat.testing import frame
from lairchat.testing_clients import TCPClient
from lairchat.transports import CLOSE_GRACE

TIMEOUT = 10.0


def dev_certificate(folder: Path) -> tuple[Path, Path]:
    """``lairchat certs dev --dir folder``, as an operator would run it."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "from lairchat.cli import main; raise SystemExit(main())",
            "certs",
            "dev",
            "--dir",
            str(folder),
        ],
        capture_output=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return folder / "dev-cert.pem", folder / "dev-key.pem"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return dev_certificate(tmp_path_factory.mktemp("certs"))


@pytest.fixture(scope="module")
def other_key(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The key of another certificate: it matches nothing of ours."""
    return dev_certificate(tmp_path_factory.mktemp("other-certs"))[1]


@pytest.fixture(scope="module")
def tls_server(start_server: Any, certificate: tuple[Path, Path]) -> Any:
    cert, key = certificate
    return start_server(
        LAIR_TLS_ENABLED="true",
        LAIR_TCP_TLS="true",
        LAIR_TLS_CERT_PATH=str(cert),
        LAIR_TLS_KEY_PATH=str(key),
    )


def verifying(cert: Path) -> ssl.SSLContext:
    """A client context that trusts only the dev certificate, and checks host names."""
    context = ssl.create_default_context(cafile=str(cert))
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    return context


def connect(port: int, context: ssl.SSLContext, hostname: str = "localhost") -> ssl.SSLSocket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
    try:
        return context.wrap_socket(sock, server_hostname=hostname)
    except BaseException:
        sock.close()
        raise


def http_get(tls: ssl.SSLSocket, path: str, host: str = "localhost") -> tuple[bytes, bytes]:
    """One HTTP/1.1 request on an open TLS socket: (status line, body)."""
    tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
    data = b""
    while chunk := tls.recv(65536):
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n", 1)[0], body


# --------------------------------------------------------------------------- serving


@pytest.mark.parametrize("hostname", ["localhost", "127.0.0.1"])
def test_https_health_with_a_verified_certificate(
    tls_server: Any, certificate: tuple[Path, Path], hostname: str
) -> None:
    with connect(tls_server.http_port, verifying(certificate[0]), hostname) as tls:
        assert tls.version() in ("TLSv1.2", "TLSv1.3")
        status, body = http_get(tls, "/health", hostname)
    assert status == b"HTTP/1.1 200 OK"
    assert json.loads(body)["status"] == "healthy"


def test_a_client_that_never_ends_tls_is_let_go(
    tls_server: Any, certificate: tuple[Path, Path]
) -> None:
    """After a ``Connection: close`` answer the server sends ``close_notify`` and waits
    for the client's. A client that never sent one (nor closed) kept the server's
    socket, and its place under the connection caps, for good (still open after 120
    s); the server now aborts it CLOSE_GRACE seconds after its close."""
    with connect(tls_server.http_port, verifying(certificate[0])) as tls:
        status, _ = http_get(tls, "/health")
        assert status == b"HTTP/1.1 200 OK"
        # The TLS layer has its close_notify; watch the socket under it, without ours.
        raw = socket.socket(fileno=os.dup(tls.fileno()))
        raw.settimeout(CLOSE_GRACE + 10)
        started = time.monotonic()
        try:
            while raw.recv(4096):
                pass
        except ConnectionResetError:
            pass  # the abort
        finally:
            raw.close()
        assert time.monotonic() - started < CLOSE_GRACE + 3


def test_the_certificate_is_really_checked(tls_server: Any, certificate: tuple[Path, Path]) -> None:
    """Verification is what makes the test above mean something: a name the certificate
    does not carry, or a client that trusts nothing, fails the handshake."""
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch|match"):
        connect(tls_server.http_port, verifying(certificate[0]), "example.com")
    trusting_nothing = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    assert trusting_nothing.verify_mode is ssl.CERT_REQUIRED
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(tls_server.http_port, trusting_nothing)


def old_protocol(version: ssl.TLSVersion) -> ssl.SSLContext:
    """A client that offers only ``version`` (and would accept any certificate)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # that is the point
        context.minimum_version = context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")  # so that the client itself can offer it
    return context


@pytest.mark.parametrize("port", ["http", "tcp"])
@pytest.mark.parametrize("version", ["TLSv1", "TLSv1_1"])
def test_tls_1_1_and_older_are_refused_by_the_server(
    tls_server: Any, port: str, version: str
) -> None:
    number = tls_server.http_port if port == "http" else tls_server.tcp_port
    with pytest.raises(ssl.SSLError) as refused:
        connect(number, old_protocol(getattr(ssl.TLSVersion, version)))
    # The server's own alert, not a client that could not offer the version.
    assert refused.value.reason == "TLSV1_ALERT_PROTOCOL_VERSION", refused.value


@pytest.mark.parametrize("port", ["http", "tcp"])
@pytest.mark.parametrize("version", ["TLSv1_2", "TLSv1_3"])
def test_tls_1_2_and_1_3_are_spoken(
    tls_server: Any, certificate: tuple[Path, Path], port: str, version: str
) -> None:
    number = tls_server.http_port if port == "http" else tls_server.tcp_port
    context = verifying(certificate[0])
    context.minimum_version = context.maximum_version = getattr(ssl.TLSVersion, version)
    with connect(number, context) as tls:
        assert tls.version() == version.replace("_", ".")


def test_the_tcp_port_speaks_the_protocol_inside_tls(
    tls_server: Any, certificate: tuple[Path, Path]
) -> None:
    with connect(tls_server.tcp_port, verifying(certificate[0])) as tls:
        client = TCPClient(tls)  # checks that server_hello comes first
        assert client.server_hello["version"] == "1.0"
        client.send({"type": "ping"})
        assert client.recv()["type"] == "pong"


def plaintext_reply(port: int, data: bytes) -> bytes:
    """Send ``data`` in the clear; return everything received until the server closes."""
    received = b""
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.sendall(data)
        try:
            while chunk := sock.recv(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


def test_the_tls_tcp_port_never_speaks_plaintext(tls_server: Any) -> None:
    """A plaintext client gets no server_hello: at most a TLS alert, then the close."""
    hello = frame(orjson.dumps({"type": "client_hello", "version": "1.0"}))
    received = plaintext_reply(tls_server.tcp_port, hello)
    assert b"server_hello" not in received
    assert received == b"" or received[0] == 0x15  # a TLS alert record


def test_https_only_on_the_http_port(tls_server: Any) -> None:
    request = b"GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n"
    assert b"healthy" not in plaintext_reply(tls_server.http_port, request)


# --------------------------------------------------------------------------- refusing to start


def _cases(tmp: Path, cert: Path, key: Path, other_key: Path) -> dict[str, tuple[dict, str, str]]:
    """name -> (environment, the file named in the error, words of the error)."""
    garbage = tmp / "garbage.pem"
    garbage.write_text("not a certificate\n")
    folder = tmp / "a-directory"
    folder.mkdir(exist_ok=True)
    missing = tmp / "missing.pem"

    def tls(cert_path: Path, key_path: Path, **more: str) -> dict[str, str]:
        return {
            "LAIR_TLS_ENABLED": "true",
            "LAIR_TLS_CERT_PATH": str(cert_path),
            "LAIR_TLS_KEY_PATH": str(key_path),
            **more,
        }

    return {
        "missing-cert": (tls(missing, key), str(missing), "cannot read"),
        "missing-key": (tls(cert, missing), str(missing), "cannot read"),
        "unreadable-cert": (tls(folder, key), str(folder), "cannot read"),
        "unreadable-key": (tls(cert, folder), str(folder), "cannot read"),
        "cert-not-pem": (tls(garbage, key), str(garbage), "not a PEM certificate"),
        "key-not-pem": (tls(cert, garbage), str(garbage), "not a PEM private key"),
        "mismatched-key": (tls(cert, other_key), str(other_key), "does not match"),
        "tcp-tls-mismatched-key": (
            {
                "LAIR_TCP_TLS": "true",
                "LAIR_TLS_CERT_PATH": str(cert),
                "LAIR_TLS_KEY_PATH": str(other_key),
            },
            str(other_key),
            "does not match",
        ),
        "tls-without-cert": (
            {"LAIR_TLS_ENABLED": "true", "LAIR_TLS_KEY_PATH": str(key)},
            "LAIR_TLS_CERT_PATH",
            "required",
        ),
    }


CASES = [
    "missing-cert",
    "missing-key",
    "unreadable-cert",
    "unreadable-key",
    "cert-not-pem",
    "key-not-pem",
    "mismatched-key",
    "tcp-tls-mismatched-key",
    "tls-without-cert",
]


@pytest.mark.parametrize("name", CASES)
def test_a_bad_certificate_or_key_stops_the_start(
    tmp_path: Path, certificate: tuple[Path, Path], other_key: Path, run_until_exit: Any, name: str
) -> None:
    cert, key = certificate
    env, named, words = _cases(tmp_path, cert, key, other_key)[name]
    status, output = run_until_exit(tmp_path / "server", **env)
    assert status != 0
    lines = output.strip().splitlines()
    assert len(lines) == 1, output
    assert named in lines[0] and words in lines[0], lines[0]
    assert lines[0].startswith("lairchat: LAIR_TLS_")
