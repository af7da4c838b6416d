"""The browser client (docs/WEB.md) when its session or its server goes away mid-use.

Headless Chromium (tests/integration/browser.py) opens the page of a real
``twistd lairchat``; the other users are raw TCP clients. Each test found a fault that
it failed on before the fix: the message box disabled (and the focus dropped) for as
long as a restarting server was away, and the half-written message lost when the
session expired and the user logged in again.
"""

from __future__ import annotations

import re
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import click, rest, wait_for
from tests.integration.test_web_client_browser import (
    INCOMING,
    PASSWORD,
    SECRET,
    connected,
    errors_logged,
    from_browser,
    in_a_room,
    listed,
    open_room,
    registered,
    restarted,
    showing,
    shown,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    type_into,
)
from tests.integration.test_web_client_hostile import KEEP_SOCKETS, deliver
from tests.integration.test_web_client_keyboard import LISTEN, focus, focus_on, keys, spoken

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


# -- the password ------------------------------------------------------------------------------

NEW_PASSWORD = "a new and longer one"
#: What the server sends the other sessions' connections (docs/protocols/TCP.md §6).
PASSWORD_CHANGED = "Session ended: the password was changed"
#: Every text the connection line shows from now on, in order.
STATUSES = """
window.statuses = [];
new MutationObserver(() => statuses.push(document.getElementById('connection').textContent))
  .observe(document.getElementById('connection'), {childList: true});
"""


def another_session(server: ServerProcess, username: str, password: str = PASSWORD) -> str:
    """A token of a new session of the account (a login elsewhere)."""
    return rest(server, "POST", "/auth/login", {"identifier": username, "password": password})[
        "token"
    ]


def password_dialog_open(chrome: webdriver.Chrome) -> bool:
    return chrome.execute_script("return document.getElementById('password-dialog').open")


def password_fields(chrome: webdriver.Chrome) -> list[str]:
    return [
        chrome.find_element(By.ID, f"password-{name}").get_attribute("value")
        for name in ("current", "new", "again")
    ]


def send_password_form(
    chrome: webdriver.Chrome, current: str, new: str, again: str | None = None
) -> None:
    """The three fields filled in, then Enter in the last (which sends the form)."""
    type_into(chrome, "password-current", current)
    type_into(chrome, "password-new", new)
    type_into(chrome, "password-again", new if again is None else again)
    keys(chrome, Keys.ENTER)


def test_the_password_is_changed_in_the_page(server: ServerProcess, driver: webdriver.Chrome):
    """Found in a review of sessions: the page could not change the password, the way
    to lock out whoever holds a stolen token. *Change password* opens a dialog (the
    focus in it, Esc closing it, the focus back); refusals are shown in the server's
    words; once changed, the account's other sessions end (here a TCP connection,
    which gets the reason) and this page's stays: its token valid, its connection never
    dropped. No password is left in the fields or in sessionStorage."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        name = accounts[0]["user"]["username"]
        token = another_session(server, name)
        signed_in(server, driver, token)
        driver.execute_script(STATUSES)
        open_room(driver, room["name"])

        focus_on(driver, "#change-password")
        keys(driver, Keys.ENTER)
        wait_for(driver, password_dialog_open)
        assert focus(driver)["id"] == "password-current"
        keys(driver, "typed, then cancelled", Keys.ESCAPE)
        wait_for(driver, lambda d: not password_dialog_open(d))
        assert focus(driver)["id"] == "change-password"
        assert password_fields(driver) == ["", "", ""]

        keys(driver, Keys.ENTER)
        wait_for(driver, password_dialog_open)
        send_password_form(driver, "not the password", NEW_PASSWORD)
        wait_for(
            driver,
            lambda d: (
                text_of(d, "password-error") == "Password not changed: Current password incorrect"
            ),
        )
        assert focus(driver)["id"] == "password-current"
        assert password_fields(driver) == ["", "", ""]
        send_password_form(driver, PASSWORD, NEW_PASSWORD, NEW_PASSWORD + "!")
        assert text_of(driver, "password-error") == (
            "The new password and its confirmation differ: type them again."
        )
        assert focus(driver)["id"] == "password-new"
        send_password_form(driver, PASSWORD, "short")
        wait_for(
            driver,
            lambda d: (
                text_of(d, "password-error") == "Password not changed: Password too weak:"
                " password must be at least 8 characters"
            ),
        )

        send_password_form(driver, PASSWORD, NEW_PASSWORD)
        wait_for(driver, lambda d: not password_dialog_open(d))
        assert text_of(driver, "notice-text") == "Password changed. Your other sessions have ended."
        assert focus(driver)["id"] == "change-password"
        # The other session (alice's TCP connection) was ended, and told why.
        ended = [m for m in alice.expect_closed() if m["type"] == "error"]
        assert [(m["code"], m["message"]) for m in ended] == [
            ("session_not_found", PASSWORD_CHANGED)
        ]
        # This page's session stays: the same token, still valid, the connection up.
        assert driver.execute_script("return sessionStorage.getItem('lairchat.token')") == token
        assert rest(server, "GET", "/users/me", token=token)["user"]["username"] == name
        assert connected(driver)
        assert not any(s.startswith("Disconnected") for s in driver.execute_script(
            "return window.statuses"))  # fmt: skip
        driver.find_element(By.ID, "message-input").send_keys("still here", Keys.ENTER)
        bob.wait_for(from_browser("still here"))
        # No password kept: not in the fields, not in the tab's storage.
        assert password_fields(driver) == ["", "", ""]
        stored = driver.execute_script(
            "return Object.keys(sessionStorage).map((k) => sessionStorage.getItem(k)).join(' ')"
        )
        assert PASSWORD not in stored and NEW_PASSWORD not in stored
        assert another_session(server, name, NEW_PASSWORD)
        assert errors_logged(driver, network=False) == []


def test_a_password_change_elsewhere_is_named_as_the_reason(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found in a review of sessions: when another device changed the password, the
    server closed this page's connection saying so ("Session ended: the password was
    changed"), and the page said "Your session ended (you logged out elsewhere?)". It
    now gives the server's reason; a logout elsewhere, which gives none, keeps the
    generic text."""
    with TCPClient.connect(server.tcp_port) as alice:
        name = registered(alice, "alice")["user"]["username"]
    signed_in(server, driver, another_session(server, name))
    elsewhere = another_session(server, name)
    rest(
        server,
        "POST",
        "/auth/change-password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD},
        token=elsewhere,
    )
    wait_for(driver, lambda d: shown(d, "login-view"))
    assert text_of(driver, "login-reason") == f"{PASSWORD_CHANGED}. Please log in again."
    assert driver.execute_script("return sessionStorage.length") == 0

    signed_in(server, driver, another_session(server, name, NEW_PASSWORD))
    rest(server, "POST", "/auth/logout", token=driver.execute_script(
        "return sessionStorage.getItem('lairchat.token')"))  # fmt: skip
    wait_for(driver, lambda d: shown(d, "login-view"))
    assert text_of(driver, "login-reason") == (
        "Your session ended (you logged out elsewhere?): please log in again."
    )


def test_a_rate_limited_password_change_says_when_to_try_again(
    tmp_path: Path, driver: webdriver.Chrome
):
    """The session's allowance of ``/auth/*`` requests (10 a minute) used up: the
    dialog shows the server's refusal with its wait."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_RATE_LIMITS="on")
    try:
        with TCPClient.connect(server.tcp_port) as alice:
            name = registered(alice, "alice")["user"]["username"]
        token = another_session(server, name)
        signed_in(server, driver, token)
        weak = {"current_password": PASSWORD, "new_password": "short"}
        for _ in range(10):
            with pytest.raises(urllib.error.HTTPError) as refused:
                rest(server, "POST", "/auth/change-password", weak, token=token)
            assert refused.value.code == 400
        focus_on(driver, "#change-password")
        keys(driver, Keys.ENTER)
        wait_for(driver, password_dialog_open)
        send_password_form(driver, PASSWORD, NEW_PASSWORD)
        wait_for(driver, lambda d: "Too many" in text_of(d, "password-error"))
        assert re.fullmatch(
            r"Password not changed: Too many requests: try again in \d+ s\.",
            text_of(driver, "password-error"),
        )
        assert password_fields(driver) == ["", "", ""] and connected(driver)
    finally:
        server.stop()


# -- sessions and a room's pending invitations -----------------------------------------------


def dialog_open(chrome: webdriver.Chrome, dialog_id: str) -> bool:
    return chrome.execute_script("return document.getElementById(arguments[0]).open", dialog_id)


def sessions_listed(chrome: webdriver.Chrome) -> list[str]:
    """The sessions the dialog lists, by id, ``*`` after the one marked this one."""
    return chrome.execute_script(
        """return [...document.querySelectorAll('#session-list li[data-key]')].map((li) =>
             li.dataset.key.slice(8) + (li.querySelector('.this-one') ? '*' : ''))"""
    )


def session_id(server: ServerProcess, token: str) -> str:
    """The id of the session ``token`` belongs to (the one it lists as current)."""
    listed = rest(server, "GET", "/auth/sessions", token=token)["sessions"]
    return next(s["id"] for s in listed if s["current"])


def refused_status(server: ServerProcess, path: str, token: str) -> int:
    with pytest.raises(urllib.error.HTTPError) as refused:
        rest(server, "GET", path, token=token)
    return refused.value.code


def open_sessions_dialog(chrome: webdriver.Chrome) -> None:
    focus_on(chrome, "#show-sessions")
    keys(chrome, Keys.ENTER)
    wait_for(chrome, lambda d: dialog_open(d, "sessions-dialog"))


def end_session_button(chrome: webdriver.Chrome, sid: str) -> Any:
    return chrome.find_element(
        By.CSS_SELECTOR, f'#session-list li[data-key="session:{sid}"] button'
    )


def test_another_session_is_ended_from_the_page(server: ServerProcess, driver: webdriver.Chrome):
    """*Sessions* lists where the account is signed in, this page's marked; *End
    session* asks first (in the page, *Cancel* focused), then ends that session: its
    token is refused and its TCP connection closed, this page stays connected. Esc
    closes the dialog, the focus back on *Sessions*."""
    with TCPClient.connect(server.tcp_port) as alice:
        name = registered(alice, "alice")["user"]["username"]
    laptop_token = another_session(server, name)
    with TCPClient.connect(server.tcp_port) as laptop:
        laptop.hello()
        laptop.ok("authenticate", token=laptop_token)
        page_token = another_session(server, name)
        signed_in(server, driver, page_token)
        laptop_id, page_id = session_id(server, laptop_token), session_id(server, page_token)

        open_sessions_dialog(driver)
        assert focus(driver)["id"] == "sessions-close"
        wait_for(driver, lambda d: f"{page_id}*" in sessions_listed(d))
        listed = sessions_listed(driver)
        assert len(listed) == 3 and laptop_id in listed and listed[0] == f"{page_id}*"
        assert "(this one)" in text_of(driver, f"session:{page_id}")
        assert "Signed in" in text_of(driver, f"session:{laptop_id}")
        button = end_session_button(driver, laptop_id)
        assert button.get_attribute("aria-describedby") == f"session:{laptop_id}"

        # Asked first: Cancel has the focus, Enter on it ends nothing.
        driver.execute_script("arguments[0].focus()", button)
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: dialog_open(d, "confirm"))
        assert text_of(driver, "confirm-text") == (
            "End that session? Whoever uses it is signed out at once."
        )
        assert focus(driver)["id"] == "confirm-no"
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: not dialog_open(d, "confirm"))
        assert focus(driver)["item"] == f"session:{laptop_id}"
        assert rest(server, "GET", "/users/me", token=laptop_token)["user"]["username"] == name

        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: dialog_open(d, "confirm"))
        click(driver, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")
        wait_for(driver, lambda d: sessions_listed(d) == [f"{page_id}*", *(
            s for s in listed[1:] if s != laptop_id)])  # fmt: skip
        assert text_of(driver, "sessions-status") == "Session ended."
        laptop.expect_closed()
        assert refused_status(server, "/users/me", laptop_token) == 401
        assert dialog_open(driver, "sessions-dialog") and connected(driver)

        keys(driver, Keys.ESCAPE)
        wait_for(driver, lambda d: not dialog_open(d, "sessions-dialog"))
        assert focus(driver)["id"] == "show-sessions"
        assert rest(server, "GET", "/users/me", token=page_token)["user"]["username"] == name
        assert errors_logged(driver, network=False) == []


def test_ending_this_session_logs_the_page_out(server: ServerProcess, driver: webdriver.Chrome):
    with TCPClient.connect(server.tcp_port) as alice:
        name = registered(alice, "alice")["user"]["username"]
    token = another_session(server, name)
    signed_in(server, driver, token)
    page_id = session_id(server, token)
    open_sessions_dialog(driver)
    wait_for(driver, lambda d: f"{page_id}*" in sessions_listed(d))
    end_session_button(driver, page_id).click()
    wait_for(driver, lambda d: dialog_open(d, "confirm"))
    assert text_of(driver, "confirm-text") == "End this session? This page is logged out."
    click(driver, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")
    wait_for(driver, lambda d: shown(d, "login-view"))
    assert text_of(driver, "login-reason") == "You ended this session: you are logged out."
    assert not dialog_open(driver, "sessions-dialog")
    assert driver.execute_script("return sessionStorage.getItem('lairchat.token')") is None
    assert refused_status(server, "/users/me", token) == 401
    assert errors_logged(driver, network=False) == []


def test_a_session_ended_meanwhile_is_refused_in_the_servers_words(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Ended elsewhere between the listing and the click: the server's 404 is shown in
    the dialog (this page is not signed out: it is not its own session), and the list
    is asked for again."""
    with TCPClient.connect(server.tcp_port) as alice:
        name = registered(alice, "alice")["user"]["username"]
    other = another_session(server, name)
    token = another_session(server, name)
    signed_in(server, driver, token)
    other_id = session_id(server, other)
    open_sessions_dialog(driver)
    wait_for(driver, lambda d: other_id in sessions_listed(d))
    rest(server, "POST", "/auth/logout", token=other)
    end_session_button(driver, other_id).click()
    wait_for(driver, lambda d: dialog_open(d, "confirm"))
    click(driver, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")
    wait_for(
        driver, lambda d: text_of(d, "sessions-error") == "Session not ended: Session not found"
    )
    wait_for(driver, lambda d: other_id not in sessions_listed(d))
    assert connected(driver) and dialog_open(driver, "sessions-dialog")


def invited_listed(chrome: webdriver.Chrome) -> list[str]:
    return listed(chrome, "invited-list")


def test_an_owner_revokes_a_pending_invitation_in_the_page(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Under the members, the room's owner sees its pending invitations, whoever sent
    them, and revokes one after a question (``revoke_invitation``); one answered
    meanwhile is refused in the server's words and the list asked again. A plain
    member sees no such list."""
    with (
        TCPClient.connect(server.tcp_port) as alice,
        TCPClient.connect(server.tcp_port) as bob,
        TCPClient.connect(server.tcp_port) as carol,
        TCPClient.connect(server.tcp_port) as dave,
    ):
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)  # bob owns, alice member
        bob_name = accounts[1]["user"]["username"]
        carols, daves = registered(carol, "carol"), registered(dave, "dave")
        alice_id = accounts[0]["user"]["id"]
        role_path = f"/rooms/{room['id']}/members/{alice_id}/role"
        rest(server, "PUT", role_path, {"role": "moderator"}, token=accounts[1]["token"])
        for invitee in (carols, daves):
            alice.ok("invite_to_room", room_id=room["id"], user_id=invitee["user"]["id"])
        signed_in(server, driver, another_session(server, bob_name))
        open_room(driver, room["name"])
        driver.find_element(By.ID, "show-members").click()
        carol_name, dave_name = carols["user"]["username"], daves["user"]["username"]
        wait_for(driver, lambda d: sorted(invited_listed(d)) == sorted([carol_name, dave_name]))
        alice_name = accounts[0]["user"]["username"]
        assert f"invited by {alice_name}" in text_of(driver, "invited-list")

        # Dave declines before the owner gets to it: refused, the list asked again.
        dave_inv = dave.ok("list_invitations")["invitations"][0]
        dave.ok("decline_invitation", invitation_id=dave_inv["id"])
        click(
            driver,
            By.CSS_SELECTOR,
            f'#invited-list li[data-key="invitation:{dave_inv["id"]}"] .revoke',
        )
        wait_for(driver, lambda d: dialog_open(d, "confirm"))
        assert text_of(driver, "confirm-text") == f"Revoke the invitation of {dave_name}?"
        click(driver, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")
        wait_for(driver, lambda d: text_of(d, "alert-text") == "Invitation expired")
        wait_for(driver, lambda d: invited_listed(d) == [carol_name])

        # Carol's: revoked; she cannot accept it any more.
        carol_inv = carol.ok("list_invitations")["invitations"][0]
        click(driver, By.CSS_SELECTOR, "#invited-list .revoke")
        wait_for(driver, lambda d: dialog_open(d, "confirm"))
        click(driver, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")
        wait_for(driver, lambda d: text_of(d, "notice-text") == (
            f"The invitation of {carol_name} is revoked."))  # fmt: skip
        wait_for(driver, lambda d: text_of(d, "invited-list") == "No pending invitations.")
        assert carol.ok("list_invitations")["invitations"] == []
        answer = carol.request("accept_invitation", invitation_id=carol_inv["id"])
        assert answer["success"] is False and answer["error"]["code"] == "invitation_expired"
        assert errors_logged(driver, network=False) == []

        # A plain member's page lists no invitations.
        dave.ok("join_room", room_id=room["id"])
        signed_in(server, driver, daves["token"])
        open_room(driver, room["name"])
        driver.find_element(By.ID, "show-members").click()
        wait_for(driver, lambda d: dave_name in listed(d, "member-list"))
        assert not shown(driver, "invited-list") and not shown(driver, "invited-heading")
