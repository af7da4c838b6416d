"""lairchat behind a real nginx running ``contrib/nginx/lairchat.conf``.

The configuration under test is the file shipped in ``contrib/`` (and quoted verbatim
in docs/deployment.md): only its site-specific values are replaced, each replacement
checked, so a change to the file is a change to what this test runs. nginx runs as
the current user with its own prefix, pid, logs and temporary paths, in the
foreground, on loopback ports.

Clients connect to nginx from 127.0.0.2 (Linux routes all of 127/8 to loopback) and
nginx reaches lairchat from 127.0.0.1: so "the client's address" and "the proxy's
address" differ, as they do in production.
"""

from __future__ import annotations

import getpass
import json
import re
import shutil
import signal
import ssl
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from lairchat.testing_clients import WSClient
from lairchat.tls import write_dev_certificate
from tests.integration.test_ops_support import (
    PASSWORD,
    ROOT,
    TIMEOUT,
    Server,
    TCPClient,
    closing_all,
    free_ports,
    http_request,
    wait_until,
)

CONF = ROOT / "contrib" / "nginx" / "lairchat.conf"
DEPLOYMENT_DOC = ROOT / "docs" / "deployment.md"
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CLIENT = "127.0.0.2"
OTHER_CLIENT = "127.0.0.3"
AUTH_LIMIT = 10  # the auth tier: 10 requests a minute per client


def stream_module_directive() -> str:
    """How this nginx gets its stream module: a load_module line, or nothing."""
    info = subprocess.run([NGINX, "-V"], capture_output=True, text=True).stderr
    if "--with-stream=dynamic" in info:
        found = re.search(r"--modules-path=(\S+)", info)
        modules = found.group(1) if found else "/usr/lib/nginx/modules"
        return f"load_module {modules}/ngx_stream_module.so;"
    assert "--with-stream" in info, "this nginx has no stream module"
    return ""


def render(text: str, values: dict[str, str]) -> str:
    """Replace each site-specific value; fail if one is no longer in the file."""
    for old, new in values.items():
        assert old in text, f"{CONF.name} no longer contains {old!r}: update this test"
        text = text.replace(old, new)
    return text


class PortTaken(AssertionError):
    """A port free_ports() handed out was taken by someone else before nginx bound it."""


class Nginx:
    def __init__(self, workdir: Path, lairchat: Server, lairchat_tcp_port: int):
        self.prefix = workdir / "nginx"
        for sub in ("", "logs", "temp"):
            (self.prefix / sub).mkdir(parents=True, exist_ok=True)
        cert, key = write_dev_certificate(str(workdir / "certs"))
        self.tls = ssl.create_default_context(cafile=str(cert))
        ports = free_ports(4)
        self.http_port, self.https_port, self.stream_port, self.stream_tls_port = ports
        temp = self.prefix / "temp"
        temp_paths = "".join(
            f"\n    {kind}_temp_path {temp}/{kind};"
            for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
        )
        self.error_log = self.prefix / "logs" / "error.log"
        self.error_log.unlink(missing_ok=True)  # a retry reads only its own start
        config = render(
            CONF.read_text(),
            {
                "user www-data;": f"user {getpass.getuser()};",
                "pid /run/nginx.pid;": f"pid {self.prefix}/nginx.pid;",
                "error_log /var/log/nginx/error.log;": f"error_log {self.error_log} info;",
                "load_module modules/ngx_stream_module.so;": stream_module_directive(),
                "access_log /var/log/nginx/access.log lairchat;": (
                    f"access_log {self.prefix}/logs/access.log lairchat;{temp_paths}"
                ),
                "listen 80;": f"listen 127.0.0.1:{self.http_port};",
                "listen 443 ssl;": f"listen 127.0.0.1:{self.https_port} ssl;",
                "listen 8080;": f"listen 127.0.0.1:{self.stream_port};",
                "listen 8443 ssl;": f"listen 127.0.0.1:{self.stream_tls_port} ssl;",
                "server 127.0.0.1:9082;": f"server 127.0.0.1:{lairchat.http_port};",
                "server 127.0.0.1:9080;": f"server 127.0.0.1:{lairchat_tcp_port};",
                "/etc/letsencrypt/live/chat.example.com/fullchain.pem": str(cert),
                "/etc/letsencrypt/live/chat.example.com/privkey.pem": str(key),
            },
        )
        self.conf = self.prefix / "nginx.conf"
        self.conf.write_text(config)
        self.out = (self.prefix / "logs" / "stdout").open("wb")
        self.process = subprocess.Popen(
            [NGINX, "-p", str(self.prefix), "-c", str(self.conf), "-e", str(self.error_log),
             "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=self.out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            wait_until(self._listening, "for nginx to listen", process=self.process)
        except BaseException:
            self.stop()
            log = self.log()
            failure = PortTaken if "Address already in use" in log else AssertionError
            raise failure(f"nginx did not start:\n{log}") from None

    def _listening(self) -> bool:
        try:
            status, _, _ = http_request(self.https_port, "GET", "/health", tls=self.tls, timeout=2)
        except OSError:
            return False
        return status == 200

    def log(self) -> str:
        return self.error_log.read_text(errors="replace") if self.error_log.exists() else ""

    def https(self, method: str, path: str, **kw: Any) -> tuple[int, dict[str, str], Any]:
        kw.setdefault("source", CLIENT)
        status, headers, body = http_request(self.https_port, method, path, tls=self.tls, **kw)
        return status, headers, json.loads(body) if body.startswith(b"{") else body

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=TIMEOUT)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.out.close()


@pytest.fixture
def proxied(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[Callable[..., tuple[Server, Nginx]]]:
    """``proxied(trusted=..., rate_limits=...)``: lairchat on loopback as the
    configuration's comments say, and nginx in front of it."""

    def start(trusted: bool = True, rate_limits: bool = False) -> tuple[Server, Nginx]:
        tcp_port, http_port = free_ports(2)
        env: dict[str, str | None] = {
            "LAIR_HTTP_ENDPOINT": f"tcp:{http_port}:interface=127.0.0.1",
            "LAIR_TCP_ENDPOINT": f"haproxy:tcp:{tcp_port}:interface=127.0.0.1",
            "LAIR_TRUSTED_PROXIES": "127.0.0.1" if trusted else None,
            "LAIR_RATE_LIMITS": "on" if rate_limits else "off",
        }
        server = Server(tmp_path / "lairchat", env=env, ports=(tcp_port, http_port))
        request.addfinalizer(server.stop)
        for attempt in range(3):  # new free ports when one was taken meanwhile
            try:
                nginx = Nginx(tmp_path, server, tcp_port)
                break
            except PortTaken:
                if attempt == 2:
                    raise
        request.addfinalizer(nginx.stop)
        return server, nginx

    yield start


def test_the_doc_quotes_the_tested_configuration() -> None:
    assert CONF.read_text() in DEPLOYMENT_DOC.read_text()


def test_rest_websocket_and_tcp_through_nginx(proxied: Callable[..., Any]) -> None:
    server, nginx = proxied()

    status, headers, _ = http_request(nginx.http_port, "GET", "/health", source=CLIENT)
    assert status == 301
    assert headers["location"].startswith("https://")

    name = f"alice_{uuid.uuid4().hex[:8]}"
    status, _, auth = nginx.https(
        "POST",
        "/api/v1/auth/register",
        body={"username": name, "email": f"{name}@example.com", "password": PASSWORD},
    )
    assert status == 201, auth
    token = auth["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    status, _, created = nginx.https("POST", "/api/v1/rooms", body={"name": name}, headers=bearer)
    assert status == 201, created
    room = created["room"]["id"]

    # A WebSocket session through the proxy (wss, pre-authenticated with ?token=), from
    # a page of the proxy's own origin (the web client at /): on a port other than
    # 443 the proxy must pass the port in Host for the same-origin check.
    origin = {"Origin": f"https://127.0.0.1:{nginx.https_port}"}
    ws = WSClient(
        nginx.https_port, path=f"/ws?token={token}", source=CLIENT, tls=nginx.tls, headers=origin
    )
    with closing_all(ws):
        assert ws.event("authenticate_response")["success"] is True
        target = {"type": "room", "room_id": room}
        ws.send({"type": "send_message", "request_id": "w1", "target": target, "content": "hi"})
        sent = ws.event("send_message_response")
        assert sent["success"] is True, sent

    status, _, history = nginx.https(
        "GET", f"/api/v1/messages?target_type=room&target_id={room}", headers=bearer
    )
    assert status == 200
    assert [m["content"] for m in history["messages"]] == ["hi"]

    # The TCP protocol through the stream block, plain and TLS, with PROXY headers.
    plain = TCPClient.connect(nginx.stream_port, source=CLIENT)
    plain_port = plain.sock.getsockname()[1]  # as the server should see it
    secure = TCPClient.connect(nginx.stream_tls_port, source=CLIENT, tls=nginx.tls)
    with closing_all(plain, secure):
        plain.register(f"bob_{uuid.uuid4().hex[:8]}")
        assert secure.server_hello["type"] == "server_hello"
        secure.send({"type": "ping"})
        assert secure.wait_for(lambda f: f["type"] == "pong")

    # Prometheus metrics are for the monitoring host only.
    status, _, _ = nginx.https("GET", "/metrics")
    assert status == 403
    status, _, body = nginx.https("GET", "/metrics", source="127.0.0.1")
    assert status == 200
    assert b'http_requests_total{method="POST",route="/api/v1/rooms",status="201"} 1.0' in body

    # Every address lairchat logged is the client's, never the proxy's.
    log = server.output()
    assert f'{CLIENT} "POST /api/v1/auth/register" 201' in log
    assert f"ws connection opened from {CLIENT}" in log
    assert f"tcp connection opened from {CLIENT}:{plain_port}" in log
    assert "connection opened from 127.0.0.1" not in log
    # Neither nginx's access log nor ours carries the token from /ws?token=.
    access = (nginx.prefix / "logs" / "access.log").read_text()
    assert '"GET /ws HTTP/1.1" 101' in access
    assert token not in access and token not in log


def login(nginx: Nginx, source: str, forged: str | None = None) -> int:
    """One failed login through nginx; ``forged`` is an X-Forwarded-For the client sets."""
    headers = {"X-Forwarded-For": forged} if forged else {}
    identifier = f"nobody_{uuid.uuid4().hex[:8]}"  # a new one each time: no lockout
    status, _, _ = nginx.https(
        "POST",
        "/api/v1/auth/login",
        body={"identifier": identifier, "password": "wrong-password"},
        headers=headers,
        source=source,
    )
    return status


def test_trusted_proxy_rate_limits_the_real_client(proxied: Callable[..., Any]) -> None:
    """Behind the trusted proxy the key is the client nginx saw: forged
    X-Forwarded-For values change nothing, and other clients are not affected."""
    server, nginx = proxied(trusted=True, rate_limits=True)
    statuses = [login(nginx, CLIENT, forged=f"203.0.113.{i}") for i in range(AUTH_LIMIT + 1)]
    assert statuses == [401] * AUTH_LIMIT + [429]
    # Claiming to be the limited client does not make another client limited.
    assert login(nginx, OTHER_CLIENT, forged=CLIENT) == 401
    log = server.output()
    assert log.count(f'{CLIENT} "POST /api/v1/auth/login" 401') == AUTH_LIMIT
    assert f'{CLIENT} "POST /api/v1/auth/login" 429' in log
    assert f'{OTHER_CLIENT} "POST /api/v1/auth/login" 401' in log
    assert "203.0.113." not in log


def test_untrusted_proxy_is_the_client(proxied: Callable[..., Any]) -> None:
    """Without LAIR_TRUSTED_PROXIES, X-Forwarded-For is ignored: every request through
    nginx counts as nginx's (so all clients share one limit)."""
    server, nginx = proxied(trusted=False, rate_limits=True)
    statuses = [login(nginx, CLIENT, forged=f"203.0.113.{i}") for i in range(AUTH_LIMIT)]
    assert statuses == [401] * AUTH_LIMIT
    assert login(nginx, OTHER_CLIENT) == 429
    log = server.output()
    assert log.count('127.0.0.1 "POST /api/v1/auth/login" 401') == AUTH_LIMIT
    assert CLIENT not in log
