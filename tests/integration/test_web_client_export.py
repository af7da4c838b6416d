"""*Download my data* in the browser client (docs/WEB.md, "Downloading your data"), in
headless Chromium against ``twistd lairchat``: the dialog opened from the keyboard (the
focus in it, Esc closing it, the focus back), a wrong password refused in the dialog,
then the export downloaded: a file in the browser's download folder, under the
server's name, that parses, is whole, and holds the account's messages and the
direct message it received but not another member's room message; the notice naming
it; nothing of the password left on the page. An export whose connection breaks
midway (a relay in front of the server cuts it) saves nothing and says so, and the
next try, once the server has let the first go, is saved whole. (The other refusals
and a server without the route, under Node: ``tests/unit/test_web_export.py``.)"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
import urllib.error
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    connected,
    errors_logged,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    type_into,
)
from tests.integration.test_web_client_keyboard import focus, focus_on, keys

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server

#: Messages the account writes in a room before it downloads its data.
WRITTEN = 120


def dialog_open(chrome: webdriver.Chrome) -> bool:
    return chrome.execute_script("return document.getElementById('export-dialog').open")


def downloads(chrome: webdriver.Chrome, tmp_path: Path) -> Path:
    """A folder of its own (the server's database is in ``tmp_path``) where the
    browser saves what it downloads, without asking."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    chrome.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(folder)}
    )
    return folder


def saved(folder: Path) -> list[Path]:
    """The files the browser finished saving in ``folder`` (not one still coming,
    which Chromium names ``….crdownload``)."""
    return [p for p in folder.iterdir() if p.suffix != ".crdownload"]


def test_the_data_is_downloaded_from_the_dialog(
    server: ServerProcess, driver: webdriver.Chrome, tmp_path: Path
):
    folder = downloads(driver, tmp_path)
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, rooms = two_users_in_two_rooms(alice, bob)
        me = accounts[0]["user"]
        room = {"type": "room", "room_id": rooms[0]["id"]}
        for n in range(WRITTEN):
            alice.ok("send_message", target=room, content=f"mine {n:03}")
        bob.ok("send_message", target=room, content="bob's, not alice's")
        bob.ok("send_message", target={"type": "dm", "recipient": me["id"]}, content="psst")
        login = {"identifier": me["username"], "password": PASSWORD}
        signed_in(server, driver, rest(server, "POST", "/auth/login", login)["token"])

        focus_on(driver, "#download-data")
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        assert focus(driver)["id"] == "export-password"
        assert "every direct message sent to you" in text_of(driver, "export-note")
        keys(driver, "typed, then cancelled", Keys.ESCAPE)
        wait_for(driver, lambda d: not dialog_open(d))
        wait_for(driver, lambda d: focus(d)["id"] == "download-data")
        assert driver.find_element("id", "export-password").get_attribute("value") == ""

        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        type_into(driver, "export-password", "not the password")
        keys(driver, Keys.ENTER)
        wait_for(
            driver,
            lambda d: text_of(d, "export-error") == "Data not downloaded: Invalid credentials",
        )
        assert focus(driver)["id"] == "export-password"
        assert saved(folder) == []

        days = {today()}
        type_into(driver, "export-password", PASSWORD)
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: not dialog_open(d))
        files = wait_for(driver, lambda d: saved(folder))
        days.add(today())  # midnight may have passed meanwhile
        assert [f.name for f in files] in [
            [f"lairchat-export-{me['username']}-{day}.json"] for day in days
        ]
        data = json.loads(files[0].read_bytes())
        # The notice names the file and its size (en-US in this Chromium).
        notice = re.fullmatch(
            rf"Your data is downloaded: {re.escape(files[0].name)} \(([\d.,]+) (\w+)\)\.",
            text_of(driver, "notice-text"),
        )
        assert notice is not None
        unit = {"bytes": 1, "kilobytes": 1_000, "megabytes": 1_000_000}[notice[2]]
        assert abs(float(notice[1].replace(",", "")) * unit - files[0].stat().st_size) <= unit
        wait_for(driver, lambda d: focus(d)["id"] == "download-data")
        assert driver.find_element("id", "export-password").get_attribute("value") == ""

    assert data["format"] == "lairchat-export" and data["complete"] is True
    assert list(data)[0] == "format" and list(data)[-1] == "complete"
    assert data["user"]["username"] == me["username"]
    contents = [m["content"] for m in data["messages"]]
    assert [c for c in contents if c.startswith("mine")] == [
        f"mine {n:03}" for n in range(WRITTEN)
    ]  # oldest first
    assert "psst" in contents and "bob's, not alice's" not in contents
    assert errors_logged(driver, network=False) == []


def today() -> str:
    """The day in UTC, as the server names the file (its clock is this machine's)."""
    return datetime.now(UTC).strftime("%Y-%m-%d")


def test_a_phone_downloads_it_too(server: ServerProcess, driver: webdriver.Chrome, tmp_path: Path):
    """At 360 px wide: the button in the *Account* menu, the dialog within the screen,
    its field and buttons big enough for a finger (24 px each way, WCAG 2.5.8), and
    the download started by a tap."""
    folder = downloads(driver, tmp_path)
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, _ = two_users_in_two_rooms(alice, bob)
        driver.set_window_size(360, 740)
        signed_in(server, driver, accounts[0]["token"])
        driver.find_element("id", "account-button").click()  # its menu holds the button
        driver.find_element("id", "download-data").click()
        wait_for(driver, dialog_open)
        outside = """const width = document.documentElement.clientWidth;
            const parts = '#export-dialog, #export-dialog button, #export-dialog input';
            return [...document.querySelectorAll(parts)].filter((e) => e.checkVisibility())
              .map((e) => [e.id, e.getBoundingClientRect()])
              .filter(([id, r]) => r.left < 0 || r.right > width
                                   || (id !== 'export-dialog' && (r.width < 24 || r.height < 24)))
              .map(([id, r]) => `${id} ${r.left}..${r.right} ${r.width}x${r.height}`)"""
        assert driver.execute_script(outside) == []
        type_into(driver, "export-password", PASSWORD)
        driver.find_element("id", "export-submit").click()
        files = wait_for(driver, lambda d: saved(folder))
        assert json.loads(files[0].read_bytes())["complete"] is True
        assert not dialog_open(driver)


#: Where the relay breaks an export's answer: after its headers and a few chunks.
CUT_AFTER = 4_000


class CuttingRelay:
    """A TCP relay on loopback in front of the server's HTTP port (the page is loaded
    through it: one origin, its WebSocket relayed too) that breaks the connection
    carrying the first export's answer after ``CUT_AFTER`` bytes of it, as a dropped
    network does: the chunked body ends without its last chunk."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.cut = threading.Event()
        self.sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            upstream = socket.create_connection(("127.0.0.1", self.port))
            self.sockets += [client, upstream]
            exporting = threading.Event()
            threading.Thread(target=self._up, args=(client, upstream, exporting)).start()
            threading.Thread(target=self._down, args=(upstream, client, exporting)).start()

    def _up(self, client: socket.socket, upstream: socket.socket, exporting: threading.Event):
        with contextlib.suppress(OSError):
            while data := client.recv(65536):
                # Marked before it leaves: its answer cannot come back first.
                if b"POST /api/v1/users/me/export " in data and not self.cut.is_set():
                    exporting.set()
                upstream.sendall(data)
            upstream.shutdown(socket.SHUT_WR)

    def _down(self, upstream: socket.socket, client: socket.socket, exporting: threading.Event):
        sent = 0
        with contextlib.suppress(OSError):
            while data := upstream.recv(65536):
                if exporting.is_set():
                    if sent + len(data) >= CUT_AFTER:
                        client.sendall(data[: CUT_AFTER - sent])
                        self.cut.set()
                        break
                    sent += len(data)
                client.sendall(data)
        for end in (client, upstream):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)

    def close(self) -> None:
        for s in self.sockets:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()


def exported_directly(server: ServerProcess, token: str) -> bool:
    """Whether an export asked past the relay is answered whole (False: refused with
    429, one still under way)."""
    try:
        body = {"password": PASSWORD}
        return rest(server, "POST", "/users/me/export", body, token)["complete"] is True
    except urllib.error.HTTPError as refused:
        if refused.code != 429:
            raise
        return False


@contextlib.contextmanager
def cutting_relay(server: ServerProcess) -> Iterator[CuttingRelay]:
    relay = CuttingRelay(server.http_port)
    try:
        yield relay
    finally:
        relay.close()


def test_an_export_cut_off_on_the_way_saves_nothing(
    server: ServerProcess, driver: webdriver.Chrome, tmp_path: Path
):
    folder = downloads(driver, tmp_path)
    with (
        cutting_relay(server) as relay,
        TCPClient.connect(server.tcp_port) as alice,
        TCPClient.connect(server.tcp_port) as bob,
    ):
        accounts, rooms = two_users_in_two_rooms(alice, bob)
        room = {"type": "room", "room_id": rooms[0]["id"]}
        for n in range(WRITTEN):  # an answer of some 20 KB, cut at 4
            alice.ok("send_message", target=room, content=f"mine {n:03}")
        driver.get(relay.url + "/")
        driver.execute_script(
            "sessionStorage.setItem('lairchat.token', arguments[0])", accounts[0]["token"]
        )
        driver.refresh()
        wait_for(driver, connected)

        driver.find_element("id", "download-data").click()
        wait_for(driver, dialog_open)
        type_into(driver, "export-password", PASSWORD)
        keys(driver, Keys.ENTER)
        wait_for(
            driver,
            lambda d: (
                text_of(d, "export-error")
                == "Data not downloaded: The export was cut off before its end, so nothing"
                " was saved. Try again."
            ),
        )
        assert relay.cut.is_set()
        assert saved(folder) == [] and dialog_open(driver)
        assert focus(driver)["id"] == "export-password"
        assert text_of(driver, "export-progress").endswith(" received")

        # The server lets the first export go when its client goes: one at a time
        # per user, it refuses another with 429 until then.
        wait_for(driver, lambda d: exported_directly(server, accounts[0]["token"]))
        type_into(driver, "export-password", PASSWORD)
        keys(driver, Keys.ENTER)
        files = wait_for(driver, lambda d: saved(folder))
        assert json.loads(files[0].read_bytes())["complete"] is True
        assert not dialog_open(driver)
