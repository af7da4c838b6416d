"""Mentions and desktop notifications in the browser client (docs/WEB.md, "Mentions"
and "Desktop notifications"), in headless Chromium against ``twistd lairchat``.

The page user has a name with a non-ASCII letter, so the rule's folding is exercised:
`@` and the name as a whole word, in any case, NFKC (a decomposed letter is the same
name); not a longer name, not an address, not one's own message. Mentions are marked
on their line (with a cue for screen readers), counted beside their conversation and
in the title until read. The Notification API is replaced, before the page's script
runs, by a stand-in that records what the page shows (``notification_api``): granted,
denied, asked and refused, absent. A notification comes for a live mention or direct
message out of sight, at most one per conversation per 5 s (the rest summed up), text
only; clicking it opens the conversation; none comes for what a reconnect catches up.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import Message, TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import click, wait_for
from tests.integration.test_web_client_browser import (
    HIDDEN_TAB,
    PASSWORD,
    connected,
    errors_logged,
    showing,
    shown,
    signed_in,
    text_of,
    unique,
)

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server


def notification_api(permission: str | None, answer: str = "granted", stored: bool = False) -> str:
    """A script run before the page's: a stand-in for the Notification API whose
    permission is ``permission`` (None: the browser has no such API) and which, asked,
    answers ``answer``. What the page shows is kept in ``window.notes``; how often it
    asked, in ``window.asked``. ``stored``: the setting was turned on in an earlier
    visit."""
    setting = "localStorage.setItem('lairchat.notify', 'on');" if stored else ""
    if permission is None:
        return setting + "delete window.Notification;"
    return setting + (
        """
window.notes = [];
window.asked = 0;
window.Notification = class {
  static permission = PERMISSION;
  static requestPermission() {
    window.asked += 1;
    Notification.permission = ANSWER;
    return Promise.resolve(ANSWER);
  }
  constructor(title, options = {}) {
    Object.assign(this, {title, body: options.body, tag: options.tag, closed: false});
    window.notes.push(this);
  }
  close() { this.closed = true; }
};
""".replace("PERMISSION", json.dumps(permission)).replace("ANSWER", json.dumps(answer))
    )


#: The page's WebSocket can be kept from connecting: while ``window.blocked`` is true a
#: new one goes to a path the server does not serve (and fails); ``window.socket`` is
#: the latest.
BLOCKABLE_SOCKETS = """
const Blockable = WebSocket;
window.WebSocket = class extends Blockable {
  constructor(url, ...rest) {
    super(window.blocked ? String(url).replace(/\\/ws$/, "/not-ws") : url, ...rest);
    window.socket = this;
  }
};
"""


def before_page(chrome: webdriver.Chrome, *scripts: str) -> None:
    for script in scripts:
        chrome.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})


def notes(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    """The notifications the page made, in order."""
    return chrome.execute_script(
        "return (window.notes ?? []).map((n) =>"
        " ({title: n.title, body: n.body, tag: n.tag, closed: n.closed}))"
    )


def marked(chrome: webdriver.Chrome) -> dict[str, bool]:
    """Each message line's content, and whether it is marked as mentioning us."""
    return chrome.execute_script(
        "return Object.fromEntries([...document.querySelectorAll('#messages li.message')]"
        ".map((li) => [li.querySelector('.content').textContent,"
        " li.classList.contains('mention')]))"
    )


def badges(chrome: webdriver.Chrome, key: str) -> list[list[str]]:
    """What a conversation's entry shows beside its name: each badge's text and label."""
    return chrome.execute_script(
        "return [...document.querySelectorAll(`li[data-key='${arguments[0]}'] .badge`)]"
        ".map((b) => [b.textContent, b.getAttribute('aria-label')])",
        key,
    )


def account(client: TCPClient, name: str) -> Message:
    client.hello()
    return client.ok(
        "register", username=name, email=f"{uuid.uuid4().hex}@e.com", password=PASSWORD
    )


def two_rooms(bob: TCPClient, alice: TCPClient, names: list[str]) -> list[dict[str, Any]]:
    """Rooms bob creates and alice joins."""
    rooms = [bob.ok("create_room", name=name)["room"] for name in names]
    for room in rooms:
        alice.ok("join_room", room_id=room["id"])
    return rooms


def in_room(room: dict[str, Any]) -> dict[str, str]:
    return {"type": "room", "room_id": room["id"]}


def open_key(chrome: webdriver.Chrome, key: str, title: str) -> None:
    click(chrome, By.CSS_SELECTOR, f'li[data-key="{key}"] button')
    wait_for(chrome, lambda d: text_of(d, "conversation-title") == title)


def test_mentions_are_marked_counted_and_in_the_title(
    server: ServerProcess, driver: webdriver.Chrome
):
    """The rule on its edge cases, the mark on the line (seen and said), the `@` badge
    beside a conversation and `(n, m@)` in the title until it is read; a deleted
    mention no longer counts."""
    tag = uuid.uuid4().hex[:8]
    me = f"Émile_{tag}"
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine = account(alice, me)
        bob_name = unique("bob")
        account(bob, bob_name)
        one, two = two_rooms(bob, alice, [unique("one"), unique("two")])
        signed_in(server, driver, mine["token"])
        open_key(driver, f"room:{one['id']}", f"Room {one['name']}")

        cases = {
            f"hi @{me}": True,
            f"@{me.upper()}!": True,  # another case, punctuation after
            f"@{me.lower()}, look": True,
            f"@E\u0301mile_{tag} decomposed": True,  # NFKC: the same name
            f"(@{me})": True,
            f"\uff20{me} fullwidth at": True,
            f"@{me}x is longer": False,  # another name, of which ours is a prefix
            f"@{me}_2 too": False,
            f"@{me}\u093f": False,  # a vowel sign: a name's character (Alphabetic)
            f"@{me[:-1]} is shorter": False,
            f"mail a@{me}.com": False,  # an address, not a mention
            f"{me} without an at": False,
        }
        for content in cases:
            bob.send({"type": "send_message", "target": in_room(one), "content": content})
        bob.ok("send_message", target=in_room(one), content="done")
        wait_for(driver, showing("done", bob_name))
        box = driver.find_element(By.ID, "message-input")
        box.send_keys(f"note to self @{me}", Keys.ENTER)  # our own: never a mention
        wait_for(driver, showing(f"note to self @{me}", me))
        expected = {**cases, "done": False, f"note to self @{me}": False}
        assert marked(driver) == expected

        # Not by colour alone: a visible "@" (hidden from screen readers), and the words
        # "mentions you" for them.
        cue = driver.execute_script(
            """const li = document.querySelector('#messages li.mention');
               const at = li.querySelector('.mention-mark [aria-hidden="true"]');
               const said = li.querySelector('.mention-mark .visually-hidden');
               return [at.textContent, at.getBoundingClientRect().width > 0, said.textContent,
                       li.firstElementChild.classList.contains('mention-mark')]"""
        )
        assert cue == ["@", True, "mentions you", True]
        assert driver.title == "lairchat"  # all of it seen: nothing unread

        # Elsewhere: counted, `@` beside the count, and in the title, until read.
        key = f"room:{two['id']}"
        bob.ok("send_message", target=in_room(two), content="nothing for you")
        wait_for(driver, lambda d: d.title == "(1) lairchat")
        assert badges(driver, key) == [["1", "1 unread"]]
        first = bob.ok("send_message", target=in_room(two), content=f"@{me} one")["message"]
        wait_for(driver, lambda d: d.title == "(2, 1@) lairchat")
        assert badges(driver, key) == [["2", "2 unread"], ["@", "1 mention"]]
        bob.ok("send_message", target=in_room(two), content=f"and @{me.upper()} two")
        wait_for(driver, lambda d: d.title == "(3, 2@) lairchat")
        assert badges(driver, key) == [["3", "3 unread"], ["@", "2 mentions"]]
        # The list's button says it too.
        described = driver.execute_script(
            """const button = document.querySelector(`li[data-key='${arguments[0]}'] button`);
               return button.getAttribute('aria-describedby').split(' ')
                 .map((id) => document.getElementById(id).getAttribute('aria-label'));""",
            key,
        )
        assert described == ["3 unread", "2 mentions"]
        bob.ok("delete_message", message_id=first["id"])
        wait_for(driver, lambda d: d.title == "(3, 1@) lairchat")

        open_key(driver, key, f"Room {two['name']}")
        wait_for(driver, lambda d: d.title == "lairchat")
        assert badges(driver, key) == []
        # History is marked the same way.
        wait_for(driver, lambda d: marked(d).get(f"and @{me.upper()} two") is True)
        assert marked(driver)["nothing for you"] is False
        assert errors_logged(driver) == []


def test_notifications_for_mentions_and_direct_messages(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Off until turned on; the permission asked only then; a notification for a
    mention or a direct message out of sight (another conversation, or the tab in the
    background), none for what is in sight or mentions nobody; a burst summed up; names
    shown as text with their hidden characters marked; a click opens the conversation
    and closes the notification; logging out closes them all."""
    before_page(driver, notification_api("default"), HIDDEN_TAB)
    tag = uuid.uuid4().hex[:8]
    me = f"alice_{tag}"
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine = account(alice, me)
        bob_name = unique("bob")
        bob_user = account(bob, bob_name)["user"]
        hostile = f"<b>two</b> {tag}"
        one, two = two_rooms(bob, alice, [unique("one"), hostile])
        dm = {"type": "dm", "recipient": mine["user"]["id"]}
        signed_in(server, driver, mine["token"])
        open_key(driver, f"room:{one['id']}", f"Room {one['name']}")

        # Off: nothing shown, nothing asked, nothing stored.
        assert driver.execute_script("return window.asked") == 0
        assert not driver.find_element(By.ID, "notify").is_selected()
        bob.ok("send_message", target=dm, content="before")
        wait_for(driver, lambda d: badges(d, f"dm:{bob_user['id']}") == [["1", "1 unread"]])
        assert notes(driver) == []
        assert driver.execute_script("return localStorage.length") == 0

        driver.find_element(By.ID, "notify").click()
        wait_for(
            driver,
            lambda d: d.execute_script("return localStorage.getItem('lairchat.notify')") == "on",
        )
        assert driver.execute_script("return window.asked") == 1
        assert driver.find_element(By.ID, "notify").is_selected()

        # In sight (the open room, the tab visible), or no mention: no notification.
        bob.ok("send_message", target=in_room(one), content=f"@{me} in sight")
        bob.ok("send_message", target=in_room(two), content="not for you")
        wait_for(driver, lambda d: d.title == "(2) lairchat")
        assert notes(driver) == []

        # A burst of mentions in another room: one at once, the rest summed up 5 s later.
        for n in ("0", "1", "2", "3\u202e"):
            bob.send({"type": "send_message", "target": in_room(two), "content": f"@{me} {n}"})
        first = {
            "title": f"{bob_name} mentioned you in “{hostile}”",
            "body": f"{bob_name}: @{me} 0",
            "tag": f"room:{two['id']}",
            "closed": False,
        }
        wait_for(driver, lambda d: notes(d) == [first])
        wait_for(driver, lambda d: d.title == "(6, 4@) lairchat")
        # Text only, the right-to-left override shown as a mark, as on the page.
        summed = {
            **first,
            "title": f"3 new mentions in “{hostile}”",
            "body": f"{bob_name}: @{me} 3U+202E",
        }
        # It takes the first one's place.
        wait_for(driver, lambda d: notes(d) == [{**first, "closed": True}, summed], timeout=10)

        # A direct message: its author's name, the message as the text.
        bob.ok("send_message", target=dm, content="<i>psst</i>")
        wait_for(driver, lambda d: len(notes(d)) == 3)
        assert notes(driver)[2] == {
            "title": bob_name,
            "body": "<i>psst</i>",
            "tag": f"dm:{bob_user['id']}",
            "closed": False,
        }

        # The tab in the background: the open room notifies too.
        driver.execute_script("setHidden(true)")
        bob.ok("send_message", target=in_room(one), content=f"@{me} while away")
        wait_for(driver, lambda d: len(notes(d)) == 4)
        assert notes(driver)[3]["tag"] == f"room:{one['id']}"
        driver.execute_script("setHidden(false)")
        wait_for(driver, lambda d: notes(d)[3]["closed"])  # read: taken down

        # Clicked: the conversation opens, and its notification goes.
        driver.execute_script("window.notes[1].onclick()")
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {hostile}")
        wait_for(driver, lambda d: notes(d)[1]["closed"])
        wait_for(driver, lambda d: d.title == "(2) lairchat")  # the direct messages

        driver.find_element(By.ID, "logout").click()
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert all(note["closed"] for note in notes(driver))
        assert errors_logged(driver) == []


@pytest.mark.parametrize(
    ("permission", "answer", "asks"),
    [("denied", "denied", 0), ("default", "denied", 1), (None, "", 0)],
    ids=["denied", "refused-when-asked", "absent"],
)
def test_notifications_refused_or_missing_break_nothing(
    server: ServerProcess, driver: webdriver.Chrome, permission: str | None, answer: str, asks: int
):
    """Blocked, refused when asked, or a browser without the API: the box stays off (or
    is not offered), the page says why, and messages arrive as ever. A setting stored
    on in an earlier visit does not turn notifications on without the permission."""
    before_page(driver, notification_api(permission, answer, stored=True))
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine = account(alice, unique("alice"))
        bob_user = account(bob, unique("bob"))["user"]
        signed_in(server, driver, mine["token"])
        box = driver.find_element(By.ID, "notify")
        if permission is None:
            assert driver.execute_script("return typeof Notification") == "undefined"
            assert not shown(driver, "notify-setting")
        else:
            assert not box.is_selected()
            box.click()
            wait_for(
                driver, lambda d: text_of(d, "notice-text").startswith("Notifications stay off")
            )
            assert not box.is_selected()
            assert driver.execute_script("return window.asked") == asks
            assert driver.execute_script("return localStorage.getItem('lairchat.notify')") is None
        dm = {"type": "dm", "recipient": mine["user"]["id"]}
        bob.ok("send_message", target=dm, content=f"@{mine['user']['username']} hello")
        wait_for(driver, lambda d: badges(d, f"dm:{bob_user['id']}")[:1] == [["1", "1 unread"]])
        assert notes(driver) == []
        assert errors_logged(driver) == []


def test_no_notifications_for_what_a_reconnect_catches_up(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Messages that arrived while the page was disconnected come in through the
    unread counts and history, never as a flood of notifications; live ones after the
    reconnect notify again. The setting, stored on earlier, is on from the start."""
    before_page(driver, notification_api("granted", stored=True), BLOCKABLE_SOCKETS)
    me = unique("alice")
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine = account(alice, me)
        bob_user = account(bob, unique("bob"))["user"]
        one, two = two_rooms(bob, alice, [unique("one"), unique("two")])
        signed_in(server, driver, mine["token"])
        assert driver.find_element(By.ID, "notify").is_selected()
        open_key(driver, f"room:{one['id']}", f"Room {one['name']}")

        driver.execute_script("window.blocked = true; window.socket.close()")
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        dm = {"type": "dm", "recipient": mine["user"]["id"]}
        for n in range(5):
            bob.ok("send_message", target=in_room(two), content=f"@{me} missed {n}")
            bob.ok("send_message", target=in_room(one), content=f"@{me} open {n}")
            bob.ok("send_message", target=dm, content=f"missed dm {n}")
        driver.execute_script("window.blocked = false")
        wait_for(driver, connected, timeout=20)
        wait_for(driver, showing(f"@{me} open 4"))
        # The server counted the mentions missed in the room not shown (WEB.md,
        # "Mentions"): the title says so, before any live one.
        wait_for(driver, lambda d: d.title == "(10, 5@) lairchat")
        assert badges(driver, f"room:{two['id']}") == [["5", "5 unread"], ["@", "5 mentions"]]
        assert notes(driver) == []
        # Caught up from history, the open room's mentions are marked all the same.
        assert marked(driver)[f"@{me} open 0"] is True

        bob.ok("send_message", target=in_room(two), content=f"@{me} live")
        wait_for(driver, lambda d: len(notes(d)) == 1)
        assert notes(driver)[0]["body"].endswith(f"@{me} live")
        assert badges(driver, f"dm:{bob_user['id']}") == [["5", "5 unread"]]
        assert errors_logged(driver, network=False) == []
