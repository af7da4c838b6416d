"""A real browser on ``/ws``: headless Chromium, driven by Selenium, chats with a TCP client.

lairchat runs as ``twistd -n lairchat`` in a subprocess on free loopback ports, with
``LAIR_WS_ALLOWED_ORIGINS`` listing the origin of a small page that this test serves from
another loopback port. The page (inline JavaScript, token and room id written into it)
opens ``new WebSocket("ws://…/ws?token=…")``, sends a room message once authenticated,
and records every frame it receives in ``window.received``. The other user is this test,
over the TCP port. A second page, served from an origin that is not listed, must be
refused: the browser's WebSocket fails and receives nothing.

The browser is the shared headless Chromium of ``tests/integration/browser.py``.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import TimeoutException

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser
from tests.integration.browser import rest, wait_for

SECRET = "ws-browser-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"


# -- the server --------------------------------------------------------------------------


class Server(ServerProcess):
    """The shared launcher, with a browser origin allowed on /ws, and REST calls."""

    def __init__(self, workdir: Path, allowed_origins: str):
        super().__init__(workdir, secret=SECRET, LAIR_WS_ALLOWED_ORIGINS=allowed_origins)

    def rest(self, method: str, path: str, body: Any, token: str | None = None) -> Any:
        """One REST call; the decoded JSON answer (HTTP errors raise)."""
        return rest(self, method, path, body, token)

    def register(self, prefix: str) -> dict[str, Any]:
        name = f"{prefix}_{uuid.uuid4().hex[:8]}"
        body = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        return self.rest("POST", "/auth/register", body)


# -- the pages ---------------------------------------------------------------------------

PAGE = """<!doctype html>
<meta charset="utf-8">
<title>lairchat browser test</title>
<link rel="icon" href="data:,">
<script>
const WS_URL = %(ws_url)s;
const ROOM_ID = %(room_id)s;
const CONTENT = %(content)s;
window.received = [];
window.wsClosed = null;
window.errored = false;
const ws = new WebSocket(WS_URL);
ws.onmessage = (e) => {
  const msg = JSON.parse(e.data);
  window.received.push(msg);
  if (msg.type === "authenticate_response" && msg.success && ROOM_ID) {
    const target = { type: "room", room_id: ROOM_ID };
    ws.send(JSON.stringify({ type: "send_message", target, content: CONTENT }));
  }
};
ws.onerror = () => { window.errored = true; };
ws.onclose = (e) => { window.wsClosed = { code: e.code, wasClean: e.wasClean }; };
</script>
"""


class Pages:
    """A tiny HTTP server on a loopback port: ``/`` is ``html`` (set by the test)."""

    def __init__(self) -> None:
        self.html = ""
        pages = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                if self.path != "/":
                    self.send_error(404)
                    return
                body = pages.html.encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.origin = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def page(server: Server, token: str, room_id: str | None, content: str) -> str:
    ws_url = f"ws://127.0.0.1:{server.http_port}/ws?token={token}"
    return PAGE % {
        "ws_url": json.dumps(ws_url),
        "room_id": json.dumps(room_id),
        "content": json.dumps(content),
    }


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture
def pages() -> Iterator[tuple[Pages, Pages]]:
    """Two page servers: the allowed origin and one that is not listed."""
    allowed, foreign = Pages(), Pages()
    yield allowed, foreign
    allowed.stop()
    foreign.stop()


@pytest.fixture
def server(tmp_path: Path, pages: tuple[Pages, Pages]) -> Iterator[Server]:
    srv = Server(tmp_path, allowed_origins=pages[0].origin)
    yield srv
    srv.stop()


driver = browser.driver  # the shared fixture


def received(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    return chrome.execute_script("return window.received") or []


def browser_state(chrome: webdriver.Chrome) -> dict[str, Any]:
    """What the page's WebSocket has seen, for assertions and failure messages."""
    return chrome.execute_script(
        "return {received: window.received, closed: window.wsClosed, errored: window.errored}"
    )


# -- the test ----------------------------------------------------------------------------


def test_browser_chats_with_a_tcp_client(
    server: Server, pages: tuple[Pages, Pages], driver: webdriver.Chrome
) -> None:
    allowed, foreign = pages
    alice = server.register("browser")  # in Chromium
    bob = server.register("tcp")  # this test, over TCP
    room = server.rest("POST", "/rooms", {"name": f"r{uuid.uuid4().hex[:8]}"}, bob["token"])
    room_id = room["room"]["id"]
    server.rest("POST", f"/rooms/{room_id}/join", {}, alice["token"])

    tcp = TCPClient.connect(server.tcp_port)
    tcp.hello()
    tcp.ok("authenticate", token=bob["token"])
    try:
        # A page from an origin that is not listed: the upgrade is refused (403), the
        # browser's WebSocket fails without a single message.
        foreign.html = page(server, alice["token"], None, "")
        driver.get(foreign.origin + "/")
        wait_for(
            driver, lambda d: d.execute_script("return window.wsClosed || window.received.length")
        )
        state = browser_state(driver)
        assert state["closed"] == {"code": 1006, "wasClean": False}, state
        assert state["errored"] is True and state["received"] == [], state
        refusals = [ln for ln in server.log().splitlines() if "not allowed" in ln]
        assert any(foreign.origin in ln for ln in refusals), server.log()

        # The listed origin: pre-authenticated with ?token=, it sends to the room ...
        allowed.html = page(server, alice["token"], room_id, "hello from chromium")
        driver.get(allowed.origin + "/")
        try:
            got = tcp.event("message_received")
        except (TimeoutError, ConnectionError) as e:
            pytest.fail(f"no message from the browser ({e!r}); browser: {browser_state(driver)}")
        assert got["message"]["content"] == "hello from chromium"
        assert got["message"]["author"] == alice["user"]["id"]
        assert got["author_username"] == alice["user"]["username"]
        assert got["message"]["target"] == {"type": "room", "room_id": room_id}

        # ... and receives the other user's message.
        tcp.send(
            {
                "type": "send_message",
                "target": {"type": "room", "room_id": room_id},
                "content": "hello from tcp",
            }
        )

        def from_bob(d: webdriver.Chrome) -> list[dict[str, Any]]:
            return [
                m
                for m in received(d)
                if m["type"] == "message_received"
                and m["author_username"] == bob["user"]["username"]
            ]

        try:
            mine = wait_for(driver, from_bob)
        except TimeoutException:
            pytest.fail(f"the browser did not get the TCP message: {browser_state(driver)}")
        assert len(mine) == 1 and mine[0]["message"]["content"] == "hello from tcp"

        frames = received(driver)
        assert frames[0]["type"] == "server_hello"
        assert frames[1]["type"] == "authenticate_response"
        assert frames[1]["success"] is True
        assert frames[1]["user"]["id"] == alice["user"]["id"]
        sent = [m for m in frames if m["type"] == "send_message_response"]
        assert len(sent) == 1 and sent[0]["success"] is True, frames
        assert not [m for m in frames if m["type"] == "error"], frames
        assert driver.execute_script("return window.wsClosed") is None
    finally:
        tcp.close()
