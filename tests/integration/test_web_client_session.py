"""The browser client (docs/WEB.md) when its session or its server goes away mid-use.

Headless Chromium (tests/integration/browser.py) opens the page of a real
``twistd lairchat``; the other users are raw TCP clients. Each test found a fault that
it failed on before the fix: the message box disabled (and the focus dropped) for as
long as a restarting server was away, and the half-written message lost when the
session expired and the user logged in again.
"""

from __future__ import annotations

from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import wait_for
from tests.integration.test_web_client_browser import (
    INCOMING,
    PASSWORD,
    SECRET,
    connected,
    errors_logged,
    from_browser,
    in_a_room,
    open_room,
    restarted,
    showing,
    shown,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    type_into,
)
from tests.integration.test_web_client_hostile import KEEP_SOCKETS, deliver
from tests.integration.test_web_client_keyboard import LISTEN, focus, keys, spoken

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server


def box(chrome: webdriver.Chrome) -> str:
    return chrome.find_element(By.ID, "message-input").get_attribute("value")


def test_typing_goes_on_while_the_server_restarts(tmp_path: Path, driver: webdriver.Chrome):
    """Found by typing while the server restarted: the message box was disabled for as
    long as the page was disconnected (1 s to 30 s of back-off), which also threw the
    focus out of it, so what was typed meanwhile went nowhere. Now the box stays as it
    is; Enter says the page is not connected and keeps the text; once connected again
    it sends."""
    server = ServerProcess(tmp_path, secret=SECRET)
    try:
        accounts, _ = in_a_room(server, driver)
        keys(driver, "written while")
        server.stop()
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        assert focus(driver)["id"] == "message-input"
        assert not driver.find_element(By.ID, "send").is_enabled()
        keys(driver, " the server was away", Keys.ENTER)
        wait_for(driver, lambda d: text_of(d, "alert-text").startswith("Not connected"))
        assert box(driver) == "written while the server was away"
        server = restarted(server, tmp_path)
        wait_for(driver, connected, timeout=20)  # the back-off: 1 s, 2 s, 4 s …
        with TCPClient.connect(server.tcp_port) as bob:
            bob.hello()
            bob.ok("authenticate", token=accounts[1]["token"])
            assert focus(driver)["id"] == "message-input"
            keys(driver, Keys.ENTER)
            bob.wait_for(from_browser("written while the server was away"))
        assert box(driver) == ""
        assert errors_logged(driver, network=False) == []
    finally:
        server.stop()


def log_in(chrome: webdriver.Chrome, username: str) -> None:
    type_into(chrome, "login-identifier", username)
    type_into(chrome, "login-password", PASSWORD)
    chrome.find_element(By.CSS_SELECTOR, "#login-form button").click()
    wait_for(chrome, connected)


def test_a_half_written_message_survives_logging_in_again(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by letting the session expire while a message was half written: the page
    went to the login form (rightly) and, logged in again, showed no conversation and
    an empty box. The same account signing in again on the page now gets its drafts and
    its conversation back; anyone else gets nothing of them, and a logout keeps
    nothing."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, other) = two_users_in_two_rooms(alice, bob)
        alice_name, bob_name = (a["user"]["username"] for a in accounts)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_SOCKETS})
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, other["name"])
        keys(driver, "kept aside")
        open_room(driver, room["name"])
        keys(driver, "half a thought")
        # What the server sends when the session's 24 hours are over (then it closes).
        deliver(driver, {"type": "error", "code": "session_expired", "message": "Session expired"})
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert text_of(driver, "login-reason") == "Your session expired: please log in again."
        assert box(driver) == ""

        log_in(driver, alice_name)
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {room['name']}")
        assert box(driver) == "half a thought"
        open_room(driver, other["name"])
        assert box(driver) == "kept aside"

        # Expired again, and someone else signs in: nothing of alice's comes back.
        deliver(driver, {"type": "error", "code": "session_expired", "message": "Session expired"})
        wait_for(driver, lambda d: shown(d, "login-view"))
        log_in(driver, bob_name)
        assert text_of(driver, "conversation-title") == "No conversation open"
        open_room(driver, other["name"])
        assert box(driver) == ""


#: Run before the page's script: its 30 s pings every 100 ms, and what it receives
#: dropped while ``window.deaf`` is true (a connection that died without closing).
DEAF = (
    """
const realSetInterval = window.setInterval;
window.setInterval = (f, ms, ...rest) => realSetInterval(f, ms === 30000 ? 100 : ms, ...rest);
window.deaf = false;
function incoming(message, event, handler) {
  if (!window.deaf) handler(event);
}
"""
    + INCOMING
)


def test_a_connection_that_went_silent_is_replaced(server: ServerProcess, driver: webdriver.Chrome):
    """Found thinking through a laptop that sleeps: a connection that dies without
    closing (no FIN: the network went, the machine slept) stayed "Connected" until the
    browser noticed, minutes later, while no message arrived. A connection that has
    heard nothing since its last two pings (not even their pongs) is now given up and
    replaced. Here the page's pings are sped up and what it receives dropped."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": DEAF})
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        driver.execute_script("window.deaf = true")
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        driver.execute_script("window.deaf = false")
        wait_for(driver, connected)
        bob.ok("send_message", target={"type": "room", "room_id": room["id"]}, content="hear me")
        wait_for(driver, showing("hear me"))


def test_an_outage_is_announced_once(tmp_path: Path, driver: webdriver.Chrome):
    """Found listening to a server restart as a screen reader would: the connection
    line was a live region, and each attempt changed it twice ("Reconnecting…",
    "Disconnected (code 1006): reconnecting in 4 s…"), so a two-minute outage was read
    out some twenty times. The loss and the return are now said once each; the line,
    counting the attempts, is no live region."""
    server = ServerProcess(tmp_path, secret=SECRET)
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTEN})
        in_a_room(server, driver)
        driver.execute_script(
            """window.drops = 0;
               new MutationObserver(() => {
                 if (document.getElementById('connection').textContent.startsWith('Disc'))
                   window.drops += 1;
               }).observe(document.getElementById('connection'), {childList: true});"""
        )
        server.stop()
        wait_for(driver, lambda d: d.execute_script("return window.drops") >= 3, timeout=20)
        said = [text for _, text in spoken(driver) if "onnect" in text]
        assert said == ["Disconnected from the server: reconnecting…"]
        server = restarted(server, tmp_path)
        wait_for(driver, connected, timeout=20)
        wait_for(driver, lambda d: spoken(d)[-1] == ["announcer", "Connected again."])
        said = [text for _, text in spoken(driver) if "onnect" in text]
        assert said == ["Disconnected from the server: reconnecting…", "Connected again."]
    finally:
        server.stop()


def test_a_reconnect_leaves_the_focus_where_it_is(tmp_path: Path, driver: webdriver.Chrome):
    """Found typing a search while the connection was replaced (the server's idle
    timeout, here 2 s): reopening the conversation after the reconnect moved the focus
    to the message box, and the rest of the name went there. The focus now stays where
    the user has it."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_IDLE_TIMEOUT="2")
    try:
        in_a_room(server, driver)
        driver.find_element(By.ID, "people-search").send_keys("us")
        for _ in range(2):  # the second drop comes after the first reconnect is done
            wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
            wait_for(driver, connected)
        keys(driver, "er")
        assert focus(driver)["id"] == "people-search"
        assert driver.find_element(By.ID, "people-search").get_attribute("value") == "user"
        assert box(driver) == ""
    finally:
        server.stop()
