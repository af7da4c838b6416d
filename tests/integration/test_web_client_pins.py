"""Pinned messages in the browser client (docs/WEB.md, "Pinned messages"), in headless
Chromium against ``twistd lairchat``, beside the room's owner on TCP, who asked for
lairchat's own events: a room's pins counted on *Pinned* and listed in its panel
(newest pin first, author, time and whole text, markup as text, who pinned it), a
pinned line marked; *Show* bringing an old pinned message into the conversation and
the focus onto it; a moderator pinning with ``P`` on a line (the owner told
``message_pinned``) and unpinning from the panel from the keyboard (told
``message_unpinned``); pins made and a pinned message deleted elsewhere followed live;
Esc closing the panel; a plain member offered neither; a 51st pin refused in the
server's words; a phone's targets; a server without pins said as such; and pins made
while the page was disconnected shown once it is connected again."""

from __future__ import annotations

from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    FILLER,
    actions,
    connected,
    errors_logged,
    inert,
    open_room,
    showing,
    signed_in,
    text_of,
    unique,
)
from tests.integration.test_web_client_keyboard import accessible, focus, focus_on, keys
from tests.integration.test_web_client_mentions import BLOCKABLE_SOCKETS, before_page
from tests.integration.test_web_client_reactions import account

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server

#: The original Lair Chat's answer to a pin's path, in the live page.
NO_PIN_ROUTE = browser.unknown_path(r"/pins?$")

#: Every button shown in the conversation smaller than a finger (24 px each way).
SMALL = """return [...document.querySelectorAll('#conversation button')]
             .filter((b) => b.checkVisibility())
             .map((b) => [b.id || b.className || b.textContent, b.getBoundingClientRect()])
             .filter(([, r]) => r.width < 24 || r.height < 24)
             .map(([name, r]) => `${name} ${r.width}x${r.height}`)"""


#: The element (a selector) wholly inside the window.
IN_SIGHT = """const r = document.querySelector(arguments[0]).getBoundingClientRect();
              return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight"""
NO_PAGE_SCROLL = "return document.scrollingElement.scrollHeight <= innerHeight"


def pins(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    """The pinned messages listed: each one's author, text, who pinned it, its buttons."""
    return chrome.execute_script(
        """return [...document.querySelectorAll('#pin-list li.pin')].map((li) => ({
             id: li.dataset.key.slice(4),
             author: li.querySelector('.pin-message .author').textContent,
             text: li.querySelector('.pin-message .content').textContent,
             by: li.querySelector('.pinner')?.textContent ?? null,
             buttons: [...li.querySelectorAll('button')].map((b) => b.textContent)}))"""
    )


def ids(chrome: webdriver.Chrome) -> list[str]:
    return [pin["id"] for pin in pins(chrome)]


def marked(chrome: webdriver.Chrome, message_id: str) -> bool:
    """The line shows its "Pinned" mark."""
    return chrome.execute_script(
        """const li = document.querySelector(`#messages li[data-id="${arguments[0]}"]`);
           return Boolean(li?.querySelector('.pin-mark')?.checkVisibility())""",
        message_id,
    )


def set_role(server: ServerProcess, room: dict, user_id: str, role: str, token: str) -> None:
    path = f"/rooms/{room['id']}/members/{user_id}/role"
    rest(server, "PUT", path, {"role": role}, token=token)


def test_pins_listed_pinned_and_unpinned_live_and_from_the_keyboard(
    server: ServerProcess, driver: webdriver.Chrome
):
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine, theirs = account(alice), account(bob)
        me, bob_name = mine["user"]["id"], theirs["user"]["username"]
        room = bob.ok("create_room", name=unique("room"))["room"]
        alice.ok("join_room", room_id=room["id"])
        set_role(server, room, me, "moderator", theirs["token"])
        target = {"type": "room", "room_id": room["id"]}

        def say(text: str) -> str:
            return bob.ok("send_message", target=target, content=text)["message"]["id"]

        early = say("<img src=x onerror=window.__xss=1> pinned\nearly")
        for n in range(FILLER):  # more than the page's first history page after it
            say(f"filler {n}")
        newest = say("newest")
        bob.ok("pin_message", message_id=early)

        signed_in(server, driver, mine["token"])
        open_room(driver, room["name"])
        wait_for(driver, showing("newest", bob_name))
        wait_for(driver, lambda d: text_of(d, "show-pins") == "Pinned (1)")
        assert driver.find_element(By.ID, "pins").get_attribute("hidden") is not None

        # The panel from the keyboard: the pin whole, its markup as text.
        focus_on(driver, "#show-pins")
        keys(driver, Keys.ENTER)
        assert driver.find_element(By.ID, "show-pins").get_attribute("aria-expanded") == "true"
        wait_for(driver, lambda d: ids(d) == [early])
        (pin,) = pins(driver)
        assert pin["author"] == bob_name and pin["by"] == bob_name
        assert pin["text"] == "<img src=x onerror=window.__xss=1> pinned\nearly"
        assert pin["buttons"] == ["Show", "Unpin"]
        inert(driver)
        # Its buttons say which message they are for.
        described = accessible(driver, "#pin-list li.pin button.show-pin")["description"]
        assert described.endswith(f" {bob_name} <img src=x onerror=window.__xss=1> pinned early")

        # Show: older than the first page; loaded, scrolled to and focused, marked.
        focus_on(driver, "#pin-list button.show-pin")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: focus(d)["line"] == early and focus(d)["tag"] == "LI")
        assert marked(driver, early) and not marked(driver, newest)

        # P on a line pins it: the owner told, first in the panel, the line marked, its
        # button now Unpin.
        focus_on(driver, f'#messages li[data-id="{newest}"]')
        keys(driver, "p")
        seen = bob.wait_for(lambda m: m["type"] == "message_pinned" and m["pinned_by"] == me)
        assert seen["message"]["id"] == newest and seen["room_id"] == room["id"]
        wait_for(driver, lambda d: ids(d) == [newest, early])
        assert text_of(driver, "show-pins") == "Pinned (2)"
        assert marked(driver, newest)
        assert actions(driver, newest) == ["Delete", "React", "Unpin"]

        # Pinned by the owner, live.
        live = say("pinned live")
        wait_for(driver, showing("pinned live", bob_name))
        bob.ok("pin_message", message_id=live)
        wait_for(driver, lambda d: ids(d) == [live, newest, early])
        wait_for(driver, lambda d: marked(d, live))

        # Unpinned from the panel from the keyboard: one Tab stop, arrows between its
        # buttons; the focus stays in the list.
        focus_on(driver, "#pin-list button.show-pin")
        keys(driver, Keys.ARROW_DOWN)
        assert "unpin" in focus(driver)["cls"] and focus(driver)["item"] == f"pin:{live}"
        keys(driver, Keys.ENTER)
        gone = bob.wait_for(lambda m: m["type"] == "message_unpinned")
        assert (gone["message_id"], gone["unpinned_by"]) == (live, me)
        wait_for(driver, lambda d: ids(d) == [newest, early])
        assert focus(driver)["item"] in (f"pin:{newest}", f"pin:{early}")
        wait_for(driver, lambda d: not marked(d, live))

        # A pinned message deleted (only message_deleted says so): gone from the pins.
        bob.ok("delete_message", message_id=newest)
        wait_for(driver, lambda d: ids(d) == [early])
        assert text_of(driver, "show-pins") == "Pinned (1)"

        # Esc closes the panel, the focus back on Pinned.
        focus_on(driver, "#pin-list button")
        keys(driver, Keys.ESCAPE)
        assert driver.find_element(By.ID, "pins").get_attribute("hidden") is not None
        assert focus(driver)["id"] == "show-pins"

        # The server's history agrees.
        listed = rest(server, "GET", f"/rooms/{room['id']}/pins", token=theirs["token"])
        assert [p["message"]["id"] for p in listed["pins"]] == [early]

        # A plain member: no Pin on a line, no Unpin in the panel; P does nothing.
        set_role(server, room, me, "member", theirs["token"])
        wait_for(driver, lambda d: actions(d, early) == ["React"])
        focus_on(driver, "#show-pins")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: [p["buttons"] for p in pins(d)] == [["Show"]])
        focus_on(driver, f'#messages li[data-id="{early}"]')
        keys(driver, "p")
        assert focus(driver)["line"] == early

        # On a phone the panel takes the conversation's place (a window's height is too
        # little for both), and a finger can hit everything in it; Show gives the
        # conversation back, the focus on the message. A conversation longer than the
        # screen does not scroll the page, and the message box stays in sight.
        driver.set_window_size(360, 740)
        wait_for(driver, lambda d: d.find_element(By.ID, "show-pins").is_displayed())
        assert driver.execute_script(IN_SIGHT, "#pins")
        assert not driver.find_element(By.ID, "messages").is_displayed()
        assert driver.execute_script(SMALL) == []
        assert driver.execute_script(NO_PAGE_SCROLL)
        focus_on(driver, "#pin-list button.show-pin")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: focus(d)["line"] == early)
        assert driver.find_element(By.ID, "pins").get_attribute("hidden") is not None
        assert driver.execute_script(IN_SIGHT, f'#messages li[data-id="{early}"]')
        assert driver.execute_script(IN_SIGHT, "#send")
        assert driver.execute_script(NO_PAGE_SCROLL)
        assert errors_logged(driver) == []


def test_a_51st_pin_and_a_server_without_pins(server: ServerProcess, driver: webdriver.Chrome):
    """The server's refusal of a 51st pin in its words; then the original's 404 for the
    routes: a pin says "This server cannot pin messages.", Pin is no longer offered, and
    another room's panel says the same."""
    with TCPClient.connect(server.tcp_port) as alice:
        mine = account(alice)
        rooms = [alice.ok("create_room", name=unique(n))["room"] for n in ("full", "other")]
        target = {"type": "room", "room_id": rooms[0]["id"]}
        sent = [
            alice.ok("send_message", target=target, content=f"m{n}")["message"]["id"]
            for n in range(51)
        ]
        for message_id in sent[:50]:
            alice.ok("pin_message", message_id=message_id)

        signed_in(server, driver, mine["token"])
        open_room(driver, rooms[0]["name"])
        wait_for(driver, showing("m50"))
        wait_for(driver, lambda d: text_of(d, "show-pins") == "Pinned (50)")
        focus_on(driver, f'#messages li[data-id="{sent[50]}"]')
        keys(driver, "P")
        refusal = (
            "Not pinned: Validation failed: message_id - a room keeps at most 50 pinned messages"
        )
        wait_for(driver, lambda d: text_of(d, "alert-text") == refusal)
        assert text_of(driver, "show-pins") == "Pinned (50)" and not marked(driver, sent[50])

        driver.execute_script(NO_PIN_ROUTE)
        focus_on(driver, f'#messages li[data-id="{sent[1]}"]')  # pinned: P unpins
        keys(driver, "p")
        wait_for(
            driver,
            lambda d: text_of(d, "alert-text") == "Not unpinned: This server cannot pin messages.",
        )
        wait_for(driver, lambda d: actions(d, sent[1]) == ["Edit", "Delete", "React"])
        open_room(driver, rooms[1]["name"])
        driver.find_element(By.ID, "show-pins").click()
        wait_for(driver, lambda d: text_of(d, "pin-list") == "This server cannot pin messages.")
        assert text_of(driver, "show-pins") == "Pinned"
        assert errors_logged(driver, network=False) == []


def test_pins_changed_while_disconnected_show_once_connected_again(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Events missed while the page was disconnected: the pins it held are asked for
    again, the open room's at once, another room's when it is next opened. And the
    panel is a room's: it closes when another conversation is opened."""
    before_page(driver, BLOCKABLE_SOCKETS)
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine = account(alice)
        account(bob)
        rooms = [bob.ok("create_room", name=unique(n))["room"] for n in ("one", "two")]
        for room in rooms:
            alice.ok("join_room", room_id=room["id"])
        sent = [
            bob.ok("send_message", target={"type": "room", "room_id": room["id"]}, content=text)
            for room, text in zip(rooms, ("in one", "in two"), strict=True)
        ]
        signed_in(server, driver, mine["token"])
        for room in rooms:  # both held, each with no pin
            open_room(driver, room["name"])
            wait_for(driver, lambda d: text_of(d, "show-pins") == "Pinned (0)")

        driver.execute_script("window.blocked = true; window.socket.close()")
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        for answer in sent:
            bob.ok("pin_message", message_id=answer["message"]["id"])
        driver.execute_script("window.blocked = false")
        wait_for(driver, connected, timeout=20)

        wait_for(driver, lambda d: text_of(d, "show-pins") == "Pinned (1)")  # two, open
        wait_for(driver, lambda d: marked(d, sent[1]["message"]["id"]))
        open_room(driver, rooms[0]["name"])
        wait_for(driver, lambda d: text_of(d, "show-pins") == "Pinned (1)")
        wait_for(driver, lambda d: marked(d, sent[0]["message"]["id"]))

        # The panel is the room's: another room opened (here on a phone, where it takes
        # the conversation's place) shows that room's conversation.
        driver.set_window_size(360, 740)
        driver.find_element(By.ID, "show-pins").click()
        wait_for(driver, lambda d: not d.find_element(By.ID, "messages").is_displayed())
        driver.find_element(By.ID, "back").click()
        open_room(driver, rooms[1]["name"])
        assert driver.find_element(By.ID, "pins").get_attribute("hidden") is not None
        assert driver.find_element(By.ID, "show-pins").get_attribute("aria-expanded") == "false"
        assert driver.find_element(By.ID, "messages").is_displayed()
        assert errors_logged(driver, network=False) == []
