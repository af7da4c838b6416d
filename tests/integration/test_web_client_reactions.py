"""Message reactions in the browser client (docs/WEB.md, "Reactions"), in headless
Chromium against ``twistd lairchat``, beside a TCP user who asked for lairchat's own
events: a reaction from history and live, under its message, with its count, who
reacted in its title and what a click does in its label; the page's click seen by
the other user's connection as ``reaction_added``, and a click taking it back; the
picker from the keyboard (``R``, arrows, Enter; Esc giving the focus back), an emoji
typed and checked, markup as text; the focus kept on a reaction as it changes; a
server without reactions (the original's 404) said as such; and what changed while
the page was disconnected shown in a conversation it had shown before."""

from __future__ import annotations

from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import Message, TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    connected,
    errors_logged,
    inert,
    open_room,
    showing,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    unique,
)
from tests.integration.test_web_client_keyboard import accessible, focus, focus_on, keys
from tests.integration.test_web_client_mentions import BLOCKABLE_SOCKETS, before_page

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server

#: The original Lair Chat's answer to a reaction's path, in the live page.
NO_REACTION_ROUTE = browser.unknown_path(r"/reactions/")


def reactions(chrome: webdriver.Chrome, message_id: str) -> list[dict[str, Any]]:
    """A message's reactions as shown: each button's text, label, pressed state, title."""
    return chrome.execute_script(
        """const li = document.querySelector(`#messages li[data-id="${arguments[0]}"]`);
           return [...(li?.querySelectorAll('.reactions button') ?? [])].map((b) => ({
             text: b.textContent, label: b.getAttribute('aria-label'),
             pressed: b.getAttribute('aria-pressed'), title: b.title}))""",
        message_id,
    )


def texts(chrome: webdriver.Chrome, message_id: str) -> list[str]:
    return [r["text"] for r in reactions(chrome, message_id)]


def click_reaction(chrome: webdriver.Chrome, message_id: str, emoji: str) -> None:
    chrome.execute_script(
        "[...document.querySelectorAll(`#messages li[data-id='${arguments[0]}'] .reactions"
        " button`)].find((b) => b.dataset.emoji === arguments[1]).click()",
        message_id,
        emoji,
    )


def account(client: TCPClient) -> Message:
    client.hello(extended=True)
    name = unique("user")
    return client.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)


def picker_says(chrome: webdriver.Chrome) -> str:
    return chrome.execute_script("return document.getElementById('reaction-error').textContent")


def typed(chrome: webdriver.Chrome, emoji: str) -> None:
    """An emoji typed in the picker's field and sent with Enter (ChromeDriver types no
    character beyond the BMP, so the field is filled by script first)."""
    focus_on(chrome, "#reaction-other")
    chrome.execute_script("document.getElementById('reaction-other').value = arguments[0]", emoji)
    keys(chrome, Keys.ENTER)


def test_reactions_shown_toggled_and_picked(server: ServerProcess, driver: webdriver.Chrome):
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        mine, theirs = account(alice), account(bob)
        me, bob_id = mine["user"]["id"], theirs["user"]["id"]
        bob_name = theirs["user"]["username"]
        room = bob.ok("create_room", name=unique("room"))["room"]
        alice.ok("join_room", room_id=room["id"])
        target = {"type": "room", "room_id": room["id"]}
        old = bob.ok("send_message", target=target, content="from history")["message"]["id"]
        bob.ok("add_reaction", message_id=old, emoji="👍")
        new = bob.ok("send_message", target=target, content="live one")["message"]["id"]

        signed_in(server, driver, mine["token"])
        open_room(driver, room["name"])
        wait_for(driver, showing("live one", bob_name))
        # From history: the count, who (the title), what a click does (the label).
        assert reactions(driver, old) == [
            {"text": "👍 1", "label": "React with 👍 (1)", "pressed": "false", "title": bob_name}
        ]
        assert reactions(driver, new) == []

        # Live, from the other user; markup in an emoji stays text.
        bob.ok("add_reaction", message_id=new, emoji="<img>")
        wait_for(driver, lambda d: texts(d, new) == ["<img> 1"])
        inert(driver)

        # A click adds ours: pressed, counted, and the other connection told.
        click_reaction(driver, old, "👍")
        wait_for(driver, lambda d: texts(d, old) == ["👍 2"])
        (thumbs,) = reactions(driver, old)
        assert thumbs["pressed"] == "true" and thumbs["label"] == "Remove your 👍 reaction (2)"
        assert thumbs["title"] == f"{bob_name} and you"
        # As a screen reader gets it: what a click does, then who reacted.
        assert accessible(driver, f'#messages li[data-id="{old}"] .reactions button') == {
            "name": "Remove your 👍 reaction (2)",
            "description": f"{bob_name} and you",
        }
        seen = bob.wait_for(lambda m: m["type"] == "reaction_added" and m["user_id"] == me)
        assert (seen["message_id"], seen["emoji"]) == (old, "👍")

        # From the keyboard: R on the line opens the picker on its first emoji; Right,
        # Enter adds ❤️ and the focus lands on it.
        focus_on(driver, f'#messages li[data-id="{old}"]')
        keys(driver, "r")
        assert focus(driver)["line"] == old and "👍" in driver.switch_to.active_element.text
        keys(driver, Keys.ARROW_RIGHT)
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: texts(d, old) == ["👍 2", "❤️ 1"])
        wait_for(driver, lambda d: d.switch_to.active_element.text == "❤️ 1")
        assert driver.find_element(By.ID, "reaction-picker").get_attribute("hidden") is not None

        # Enter on our own takes it back; the last of an emoji gone, the focus goes to
        # the line's React.
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: texts(d, old) == ["👍 2"])
        wait_for(driver, lambda d: "react" in focus(d)["cls"] and focus(d)["line"] == old)
        removed = bob.wait_for(lambda m: m["type"] == "reaction_removed")
        assert (removed["user_id"], removed["emoji"]) == (me, "❤️")

        # An emoji typed: checked before it is sent, then added; Esc closes the picker
        # with the focus back on React.
        focus_on(driver, f'#messages li[data-id="{new}"]')
        keys(driver, "R")
        typed(driver, "a b")
        assert picker_says(driver) == "A reaction cannot hold spaces, “/” or invisible characters."
        typed(driver, "🦄")
        wait_for(driver, lambda d: texts(d, new) == ["<img> 1", "🦄 1"])
        focus_on(driver, f'#messages li[data-id="{new}"]')
        keys(driver, "r")
        keys(driver, Keys.ESCAPE)
        assert "react" in focus(driver)["cls"] and focus(driver)["line"] == new

        # Taken back by the other user, live; the focus on a reaction stays on it.
        focus_on(driver, f'#messages li[data-id="{old}"] .reactions button')
        bob.ok("remove_reaction", message_id=old, emoji="👍")
        wait_for(driver, lambda d: texts(d, old) == ["👍 1"])
        assert driver.switch_to.active_element.text == "👍 1"
        # An edit (whose event carries no reactions) keeps them on the line.
        bob.ok("edit_message", message_id=old, content="from history, edited")
        wait_for(driver, showing("from history, edited", bob_name))
        assert texts(driver, old) == ["👍 1"]
        history = bob.ok("get_messages", target=target, limit=10)["messages"]
        by_id = {m["id"]: m["reactions"] for m in history}
        assert by_id[old] == [{"emoji": "👍", "count": 1, "user_ids": [me], "me": False}]
        assert [r["emoji"] for r in by_id[new]] == ["<img>", "🦄"]
        assert bob_id not in by_id[old][0]["user_ids"]
        assert errors_logged(driver) == []

        # The original has no such route: said in the picker, not as "HTTP 404".
        driver.execute_script(NO_REACTION_ROUTE)
        focus_on(driver, f'#messages li[data-id="{new}"]')
        keys(driver, "r")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: picker_says(d) == "This server has no reactions.")
        assert driver.find_element(By.ID, "alert").get_attribute("hidden") is not None
        assert errors_logged(driver, network=False) == []

        # On a phone, a finger can hit the reactions and the picker (24 px each way).
        driver.set_window_size(360, 740)
        small = """return [...document.querySelectorAll('#messages button')]
                     .filter((b) => b.checkVisibility())
                     .map((b) => [b.className || b.textContent, b.getBoundingClientRect()])
                     .filter(([, r]) => r.width < 24 || r.height < 24)
                     .map(([name, r]) => `${name} ${r.width}x${r.height}`)"""
        assert driver.find_elements(By.CSS_SELECTOR, "#reaction-picker:not([hidden])")
        assert driver.execute_script(small) == []


def test_what_changed_while_disconnected_shows_in_every_conversation(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found reacting while the page was disconnected: after the reconnect only the open
    conversation was fetched again; another one the page had shown kept its old copy
    (no reaction, no message sent meanwhile) when opened again. Every conversation held
    is now fetched again when next opened."""
    before_page(driver, BLOCKABLE_SOCKETS)
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        (mine, theirs), (one, two) = two_users_in_two_rooms(alice, bob)
        bob_name = theirs["user"]["username"]
        in_one = {"type": "room", "room_id": one["id"]}
        early = bob.ok("send_message", target=in_one, content="before")["message"]["id"]
        signed_in(server, driver, mine["token"])
        open_room(driver, one["name"])
        wait_for(driver, showing("before", bob_name))
        open_room(driver, two["name"])

        driver.execute_script("window.blocked = true; window.socket.close()")
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        bob.ok("add_reaction", message_id=early, emoji="👍")
        bob.ok("send_message", target=in_one, content="while away")
        driver.execute_script("window.blocked = false")
        wait_for(driver, connected, timeout=20)

        open_room(driver, one["name"])
        wait_for(driver, showing("while away", bob_name))
        wait_for(driver, lambda d: texts(d, early) == ["👍 1"])
        assert errors_logged(driver, network=False) == []


def test_a_reaction_of_dots_is_not_a_path(server: ServerProcess, driver: webdriver.Chrome):
    """Found looking at what a REST path can carry: `.` and `..` are dot segments,
    which the browser resolves in a URL even percent-encoded, and the server takes both
    as emoji. Taking back our `..` left as `DELETE /api/v1/messages/{id}/` (a path
    the server does not serve, one slash from the message itself), joining a `.` as
    `PUT …/reactions/`: both 404, said as "This server has no reactions.", nothing
    changed. They go over the real-time connection now (`remove_reaction`,
    `add_reaction`)."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        (mine, _), (room, _) = two_users_in_two_rooms(alice, bob)
        target = {"type": "room", "room_id": room["id"]}
        kept = alice.ok("send_message", target=target, content="keep me")["message"]["id"]
        alice.ok("add_reaction", message_id=kept, emoji="..")
        bob.ok("add_reaction", message_id=kept, emoji=".")
        signed_in(server, driver, mine["token"])
        open_room(driver, room["name"])
        wait_for(driver, lambda d: texts(d, kept) == [".. 1", ". 1"])
        click_reaction(driver, kept, "..")  # ours: taken back
        wait_for(driver, lambda d: texts(d, kept) == [". 1"])
        click_reaction(driver, kept, ".")  # theirs: joined
        wait_for(driver, lambda d: texts(d, kept) == [". 2"])
        (message,) = alice.ok("get_messages", target=target, limit=5)["messages"]
        assert message["content"] == "keep me"
        assert message["reactions"] == [
            {
                "emoji": ".",
                "count": 2,
                "user_ids": [message["reactions"][0]["user_ids"][0], mine["user"]["id"]],
                "me": True,
            }
        ]
        assert driver.find_element(By.ID, "alert").get_attribute("hidden") is not None
