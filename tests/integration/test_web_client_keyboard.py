"""The browser client (docs/WEB.md) used as a demanding user would: from the keyboard
only, with a screen reader, on a phone, and with hostile text beside it.

Headless Chromium (tests/integration/browser.py) opens the page of a real
``twistd lairchat``; the other users are raw TCP clients. Each test found a fault that
it failed on before the fix: ``window.confirm`` for deletions and kicks, combining marks
drawing over the lines above, ids put into REST paths as they came, the whole history
read out by the message list's live region, a Tab stop per message button, no way past
the side lists, a phone showing the lists above the conversation, counts and presence
not said with their names, no shortcut between conversations, targets too small for a
finger, the focus lost with a banner, beside the "New messages" line or with the last
older page, a touch screen's keyboard brought up at every room, no h1, no Esc for the
member list, and presence invisible in a high-contrast mode.
"""

from __future__ import annotations

from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import click, wait_for
from tests.integration.test_web_client_browser import (
    created_rooms,
    errors_logged,
    from_browser,
    listed,
    open_room,
    registered,
    registered_over_rest,
    showing,
    shown,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    type_into,
    unique,
)
from tests.integration.test_web_client_hostile import COUNT_FETCHES, KEEP_SOCKETS, deliver

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server


def focus(chrome: webdriver.Chrome) -> dict[str, Any]:
    """Where the focus is: the element's id, class and tag, and the message line or
    list item it is in."""
    return chrome.execute_script(
        """const f = document.activeElement;
           return {id: f.id, cls: f.className, tag: f.tagName,
                   line: f.closest('#messages > li')?.dataset.id ?? null,
                   item: f.closest('li')?.dataset.key ?? null}"""
    )


def dialog_open(chrome: webdriver.Chrome) -> bool:
    return chrome.execute_script("return document.getElementById('confirm')?.open === true")


def keys(chrome: webdriver.Chrome, *pressed: str) -> None:
    """Keys pressed on whatever has the focus."""
    chrome.switch_to.active_element.send_keys(*pressed)


def focus_on(chrome: webdriver.Chrome, selector: str) -> None:
    chrome.execute_script("document.querySelector(arguments[0]).focus()", selector)


def account_action(chrome: webdriver.Chrome, button_id: str) -> None:
    """The focus on the account's button ``button_id`` (*Change password*, *Log out*…),
    for the caller to press: in the top bar on a wide screen; on a phone in the
    *Account* menu, opened and walked from the keyboard as a user does (Enter on
    *Account*, Down to the item)."""
    if not chrome.find_element(By.ID, "account-button").is_displayed():
        focus_on(chrome, f"#{button_id}")
        return
    focus_on(chrome, "#account-button")
    keys(chrome, Keys.ENTER)
    for _ in range(10):
        if focus(chrome)["id"] == button_id:
            return
        keys(chrome, Keys.ARROW_DOWN)
    raise AssertionError(f"#{button_id} is not in the account menu")


def test_deleting_and_removing_ask_in_the_page(server: ServerProcess, driver: webdriver.Chrome):
    """Found in the review: Delete and Remove asked with ``window.confirm``, a browser
    box outside the page's style that blocks the tab (and that a browser may stop
    showing). Now a dialog in the page: *Cancel* has the focus, Esc cancels, the focus
    goes back to the button that asked, and after a deletion to the list rather than
    to nowhere. All from the keyboard."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me, bobs = registered(alice, "alice"), registered(bob, "bob")
        room = alice.ok("create_room", name=unique("room"))["room"]
        bob.ok("join_room", room_id=room["id"])
        signed_in(server, driver, me["token"])
        open_room(driver, room["name"])
        keys(driver, "tpyo", Keys.ENTER)
        mine = bob.wait_for(from_browser("tpyo"))["message"]["id"]
        delete = f'#messages li[data-id="{mine}"] .delete'
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, delete))

        focus_on(driver, delete)
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)  # no window.confirm: that would be an alert here
        assert text_of(driver, "confirm-text") == "Delete this message?"
        assert focus(driver)["id"] == "confirm-no"
        keys(driver, Keys.ESCAPE)
        wait_for(driver, lambda d: not dialog_open(d))
        assert showing("tpyo")(driver)
        assert focus(driver)["line"] == mine and "delete" in focus(driver)["cls"]
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        keys(driver, Keys.SHIFT, Keys.TAB)
        assert focus(driver)["id"] == "confirm-yes"
        keys(driver, Keys.ENTER)
        assert bob.wait_for(lambda m: m["type"] == "message_deleted")["message_id"] == mine
        wait_for(driver, lambda d: not showing("tpyo")(d))
        assert focus(driver)["id"] == "messages"

        # Remove, as the room's owner: the same dialog, naming who goes.
        driver.find_element(By.ID, "show-members").click()
        bob_name = bobs["user"]["username"]
        wait_for(driver, lambda d: sorted(listed(d, "member-list")) == sorted([
            me["user"]["username"], bob_name]))  # fmt: skip
        kick = f'#member-list li[data-key="member:{bobs["user"]["id"]}"] .kick'
        focus_on(driver, kick)
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        assert text_of(driver, "confirm-text") == f"Remove {bob_name} from the room?"
        assert text_of(driver, "confirm-yes") == "Remove"
        keys(driver, Keys.ESCAPE)
        wait_for(driver, lambda d: not dialog_open(d))
        assert focus(driver)["item"] == f"member:{bobs['user']['id']}"
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        keys(driver, Keys.SHIFT, Keys.TAB)
        keys(driver, Keys.ENTER)
        left = bob.wait_for(lambda m: m["type"] == "user_left_room")
        assert left["reason"] == "kicked"
        wait_for(driver, lambda d: listed(d, "member-list") == [me["user"]["username"]])
        # The list has no button left: the focus goes to the field beside it.
        wait_for(driver, lambda d: focus(d)["id"] == "invite-name")
        assert errors_logged(driver) == []


def test_stacked_combining_marks_stay_on_their_line(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found in the review: a message of 2,000 combining acute accents on one letter
    (4 KiB, the protocol's limit) stacks them about 30 px high, over the lines above.
    Each line now clips what it draws: the line above looks the same, pixel for pixel,
    before and after."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        target = {"type": "room", "room_id": room["id"]}
        for content in ("first line", "the line above"):
            bob.ok("send_message", target=target, content=content)
        wait_for(driver, showing("the line above"))
        driver.execute_script("document.activeElement.blur()")
        above = driver.find_element(By.CSS_SELECTOR, "#messages li:last-child")
        before = above.screenshot_as_png
        marks = "a" + "\u0301" * 2040
        bob.ok("send_message", target=target, content=marks)
        wait_for(driver, showing(marks))
        assert above.screenshot_as_png == before


def test_ids_in_rest_paths_are_encoded(server: ServerProcess, driver: webdriver.Chrome):
    """Found in the review: room and user ids went into REST paths as they came. An id
    is the server's, but text: a member id ``x/../../../../users/me`` (put into the
    page's socket here) made Remove send ``DELETE /api/v1/users/me``, once the browser
    resolved the dots. Every segment is encoded now."""
    with TCPClient.connect(server.tcp_port) as alice:
        me = registered(alice, "alice")
        room = alice.ok("create_room", name=unique("room"))["room"]
        for script in (KEEP_SOCKETS, COUNT_FETCHES):
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
        signed_in(server, driver, me["token"])
        open_room(driver, room["name"])
        driver.find_element(By.ID, "show-members").click()
        wait_for(driver, lambda d: listed(d, "member-list") == [me["user"]["username"]])
        hostile = "x/../../../../users/me"
        deliver(driver, {"type": "user_joined_room", "room_id": room["id"],
                         "user": {"id": hostile, "username": "mallory"},
                         "membership": {"role": "member"}})  # fmt: skip
        click(driver, By.CSS_SELECTOR, "#member-list .kick")
        click(driver, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")
        wanted = f"/api/v1/rooms/{room['id']}/members/x%2F..%2F..%2F..%2F..%2Fusers%2Fme"
        wait_for(driver, lambda d: wanted in d.execute_script("return window.fetched"))
        assert not [u for u in driver.execute_script("return window.fetched") if "/x/" in u]


#: Run before the page's script: the text that reached a live region (what a screen
#: reader reads out), as [region id, text] in ``window.spoken``.
LISTEN = """
window.spoken = [];
const liveRegion = (node) => {
  const element = node.nodeType === 1 ? node : node.parentElement;
  const found = element?.closest('[aria-live], [role=log], [role=status], [role=alert]');
  return found && found.getAttribute('aria-live') !== 'off' ? found : null;
};
new MutationObserver((records) => {
  const changed = new Map(); // a region's additions in one go: read out as one
  for (const record of records) {
    const region = liveRegion(record.target);
    if (!region) continue;
    const added = record.type === 'characterData' ? [record.target] : [...record.addedNodes];
    changed.set(region, (changed.get(region) ?? '') + added.map((n) => n.textContent).join(''));
  }
  for (const [region, text] of changed) {
    if (text.trim()) window.spoken.push([region.id, text]);
  }
}).observe(document, {childList: true, subtree: true, characterData: true});
"""


def spoken(chrome: webdriver.Chrome) -> list[list[str]]:
    return chrome.execute_script("return window.spoken")


def test_new_messages_are_read_out_without_flooding(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found reading the page as a screen reader does: the message list itself was the
    live region (``role="log"``), so opening a room read out its 50 newest messages at
    once, and so did every reconnect and every older page; a burst of messages was
    read one by one; and each ``user_typing`` (every 3 s per typer) read the typing
    line again. Now new messages from others go to a region of their own, one
    announcement every 2 s at most (what came meanwhile summed up), and the typing line
    changes only when who is typing does."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        bob_id, bob_name = accounts[1]["user"]["id"], accounts[1]["user"]["username"]
        target = {"type": "room", "room_id": room["id"]}
        for n in range(55):
            bob.send({"type": "send_message", "target": target, "content": f"history {n:02}"})
        for _ in range(55):
            bob.wait_for(lambda m: m["type"] == "send_message_response")
        for script in (KEEP_SOCKETS, LISTEN):
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": script})
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        wait_for(driver, showing("history 54"))
        assert not [text for _, text in spoken(driver) if "history" in text]

        bob.ok("send_message", target=target, content="hello there")
        wait_for(driver, lambda d: ["announcer", f"{bob_name}: hello there"] in spoken(d))
        for n in range(40):
            bob.send({"type": "send_message", "target": target, "content": f"burst {n:02}"})
        wait_for(driver, showing("burst 39"))
        wait_for(driver, lambda d: spoken(d)[-1][1].endswith(" new messages"), timeout=5)
        said = [text for region, text in spoken(driver) if region == "announcer"]
        assert len(said) <= 3, said  # hello, maybe the first of the burst, the rest summed
        assert not [text for _, text in spoken(driver) if "history" in text]

        typing = {"type": "user_typing", "user_id": bob_id, "target": target}
        for _ in range(3):
            deliver(driver, typing)
        wait_for(driver, lambda d: text_of(d, "typing") == f"{bob_name} is typing…")
        assert len([text for region, text in spoken(driver) if region == "typing"]) == 1
        assert errors_logged(driver) == []


def tabs_to(chrome: webdriver.Chrome, element_id: str, limit: int = 200) -> int:
    """How many presses of Tab take the focus to ``element_id``."""
    for n in range(1, limit + 1):
        keys(chrome, Keys.TAB)
        if focus(chrome)["id"] == element_id:
            return n
    raise AssertionError(f"{element_id} not reached in {limit} Tabs")


def test_the_message_list_is_one_tab_stop_with_arrow_keys(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found tabbing from the message list to the message box: every message's Edit
    and Delete were Tab stops, 60 of them for 30 messages (1,000 in a busy room), and
    Esc in an edit box dropped the focus to the page's start. Now the list is one stop;
    Up, Down, Home and End move between lines, Tab reaches the focused line's buttons,
    E edits, and the focus comes back to the line after an edit."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        target = {"type": "room", "room_id": room["id"]}
        ids = [
            alice.ok("send_message", target=target, content=f"mine {n:02}")["message"]["id"]
            for n in range(30)
        ]
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        wait_for(driver, showing("mine 29"))
        focus_on(driver, "#messages")
        assert tabs_to(driver, "message-input") <= 2

        focus_on(driver, "#messages")
        keys(driver, Keys.ARROW_UP)
        assert focus(driver)["line"] == ids[-1] and focus(driver)["tag"] == "LI"
        keys(driver, Keys.ARROW_UP)
        assert focus(driver)["line"] == ids[-2]
        keys(driver, Keys.HOME)
        assert focus(driver)["line"] == ids[0]
        keys(driver, Keys.END)
        keys(driver, Keys.ARROW_UP)
        keys(driver, Keys.TAB)
        assert focus(driver)["line"] == ids[-2] and "edit" in focus(driver)["cls"]
        keys(driver, Keys.TAB)
        assert focus(driver)["line"] == ids[-2] and "delete" in focus(driver)["cls"]
        keys(driver, Keys.TAB)
        assert focus(driver)["line"] == ids[-2] and "react" in focus(driver)["cls"]
        keys(driver, Keys.TAB)
        assert focus(driver)["id"] == "message-input"

        focus_on(driver, f'#messages li[data-id="{ids[-2]}"]')
        keys(driver, "e")
        assert focus(driver)["cls"] == "edit-box"
        keys(driver, Keys.ESCAPE)
        assert focus(driver)["line"] == ids[-2] and focus(driver)["tag"] == "LI"
        keys(driver, "E")
        keys(driver, Keys.END, "!", Keys.ENTER)
        wait_for(driver, showing("mine 28!"))
        wait_for(driver, lambda d: focus(d)["line"] == ids[-2] and focus(d)["tag"] == "LI")
        assert errors_logged(driver) == []


def from_the_start(chrome: webdriver.Chrome) -> None:
    """The next Tab starts from the top of the page (as after a reload)."""
    chrome.execute_script(
        "document.body.tabIndex = -1; document.body.focus();"
        " document.body.removeAttribute('tabindex')"
    )


def test_the_first_tab_skips_to_the_message_box_and_every_stop_shows(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found tabbing through the page with 40 people listed: the message box came after
    the top bar, the room list, the room form, the public rooms and every person, 50
    and more stops. The first Tab now offers *Skip to the message box*; and every stop
    after it is in sight with a focus outline."""
    registered_over_rest(server, [unique("someone") for _ in range(40)])
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        wait_for(driver, lambda d: len(listed(d, "user-list")) >= 40)
        open_room(driver, room["name"])
        from_the_start(driver)
        keys(driver, Keys.TAB)
        assert focus(driver)["id"] == "skip"
        assert driver.execute_script(
            "const r = document.activeElement.getBoundingClientRect(); return r.width > 20"
        )
        keys(driver, Keys.ENTER)
        assert focus(driver)["id"] == "message-input"

        # Every stop from the page's start to the message box: in sight, and outlined.
        from_the_start(driver)
        seen = []
        for _ in range(120):
            keys(driver, Keys.TAB)
            stop = driver.execute_script(
                """const f = document.activeElement, r = f.getBoundingClientRect();
                   const style = getComputedStyle(f);
                   return [f.id || f.className || f.textContent, f.checkVisibility({
                     opacityProperty: true, visibilityProperty: true}) && r.width > 2
                     && r.top >= 0 && r.bottom <= innerHeight + 1, style.outlineStyle]"""
            )
            assert stop[1] and stop[2] != "none", stop
            seen.append(stop[0])
            if stop[0] == "message-input":
                break
        assert "skip" in seen and "logout" in seen and seen[-1] == "message-input"


def test_a_phone_shows_the_lists_or_the_conversation(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found at 360 px wide: the lists were stacked above the conversation, so with 40
    people listed the message box was screens below the room's name, and a notice
    banner pushed it further at any width. On a narrow window the lists and the open
    conversation now take the screen in turn, the message box at its bottom, and
    *Conversations* goes back to the lists, the focus on the room left."""
    registered_over_rest(server, [unique("someone") for _ in range(40)])
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        driver.set_window_size(360, 740)
        signed_in(server, driver, accounts[0]["token"])
        wait_for(driver, lambda d: len(listed(d, "user-list")) >= 40)
        open_room(driver, room["name"])
        in_sight = """const r = document.getElementById(arguments[0]).getBoundingClientRect();
                      return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight"""
        wait_for(driver, lambda d: d.execute_script(in_sight, "send"))
        assert focus(driver)["id"] == "message-input"
        assert not driver.find_element(By.ID, "room-list").is_displayed()
        # A notice takes room at the top; the message box stays in sight.
        private = bob.ok("create_room", name=unique("private"), settings={"public": False})
        invited = {"room_id": private["room"]["id"], "user_id": accounts[0]["user"]["id"]}
        bob.ok("invite_to_room", **invited)
        wait_for(driver, lambda d: shown(d, "notice"))
        assert driver.execute_script(in_sight, "send")
        assert driver.execute_script("return document.scrollingElement.scrollHeight <= innerHeight")

        focus_on(driver, "#back")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: d.find_element(By.ID, "room-list").is_displayed())
        assert focus(driver)["item"] == f"room:{room['id']}"
        assert not driver.find_element(By.ID, "message-input").is_displayed()
        # What is announced is heard with the lists shown too (not inside the hidden
        # conversation).
        announcer = driver.find_element(By.ID, "announcer")
        assert driver.execute_script("return arguments[0].checkVisibility()", announcer)
        assert errors_logged(driver) == []


def accessible(chrome: webdriver.Chrome, selector: str) -> dict[str, str | None]:
    """The name and description the browser gives the element to screen readers."""
    root = chrome.execute_cdp_cmd("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
    node = chrome.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    ax = chrome.execute_cdp_cmd("Accessibility.queryAXTree", {"nodeId": node["nodeId"]})["nodes"][0]
    return {part: ax.get(part, {}).get("value") for part in ("name", "description")}


def test_what_is_beside_a_name_is_said_with_it(server: ServerProcess, driver: webdriver.Chrome):
    """Found with the browser's accessibility tree: a room's unread count and a
    person's online dot sat beside their buttons, so a screen reader on the button
    heard the name alone; and the message box did not say which conversation it
    writes to. They are now the buttons' descriptions, and the box is described by
    the conversation's title."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, other) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        for n in range(2):
            bob.ok("send_message", target={"type": "room", "room_id": other["id"]}, content=f"{n}")
        button = f'#room-list li[data-key="room:{other["id"]}"] button'
        wait_for(driver, lambda d: accessible(d, button)["description"] == "2 unread")
        assert accessible(driver, button)["name"] == other["name"]
        bob_button = f'#user-list li[data-key="dm:{accounts[1]["user"]["id"]}"] button'
        assert accessible(driver, bob_button) == {
            "name": accounts[1]["user"]["username"],
            "description": "online",
        }
        assert accessible(driver, "#message-input")["description"] == f"Room {room['name']}"


def test_alt_up_and_down_switch_conversations(server: ServerProcess, driver: webdriver.Chrome):
    """Found going from one room to another without a mouse: from the message box the
    room list is dozens of Shift+Tabs away (past the people). Alt+Down and Alt+Up now
    open the next and the previous conversation in the lists' order (rooms, then
    people), with the focus in the message box. The focus often stays where it was
    (in the box), so a screen reader would not hear of the switch: it is announced."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, rooms = two_users_in_two_rooms(alice, bob)
        first, second = sorted(rooms, key=lambda room: room["name"])
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTEN})
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, first["name"])
        title = lambda d: text_of(d, "conversation-title")  # noqa: E731
        keys(driver, Keys.ALT, Keys.ARROW_DOWN)
        wait_for(driver, lambda d: title(d) == f"Room {second['name']}")
        assert focus(driver)["id"] == "message-input"
        assert spoken(driver)[-1] == ["announcer", f"Room {second['name']}"]
        keys(driver, Keys.ALT, Keys.ARROW_DOWN)
        bob_name = accounts[1]["user"]["username"]
        wait_for(driver, lambda d: title(d) == f"Direct messages with {bob_name}")
        keys(driver, Keys.ALT, Keys.ARROW_DOWN)  # the last: stays
        assert title(driver) == f"Direct messages with {bob_name}"
        focus_on(driver, "#messages")
        keys(driver, Keys.ALT, Keys.ARROW_UP)
        wait_for(driver, lambda d: title(d) == f"Room {second['name']}")
        assert focus(driver)["id"] == "message-input"
        assert errors_logged(driver) == []


def test_a_phone_gets_targets_a_finger_can_hit(server: ServerProcess, driver: webdriver.Chrome):
    """Found measuring the page at 360 px wide: the lists' entries were 22 px high, a
    message's Edit and Delete 18 px, the Private checkbox 13 px, under the 24 px each
    way that WCAG 2.5.8 asks of a target. Every button and checkbox shown is now at
    least that."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        alice.ok("send_message", target={"type": "room", "room_id": room["id"]}, content="mine")
        driver.set_window_size(360, 740)
        signed_in(server, driver, accounts[0]["token"])
        small = """return [...document.querySelectorAll('button, input[type=checkbox]')]
                     .filter((b) => b.checkVisibility() && b.id !== 'skip')  // shown on focus
                     .map((b) => [b.id || b.className || b.textContent, b.getBoundingClientRect()])
                     .filter(([, r]) => r.width < 24 || r.height < 24)
                     .map(([name, r]) => `${name} ${r.width}x${r.height}`)"""
        assert driver.execute_script(small) == []  # the lists
        open_room(driver, room["name"])
        wait_for(driver, showing("mine"))
        driver.find_element(By.ID, "show-members").click()
        wait_for(driver, lambda d: len(listed(d, "member-list")) == 2)
        assert driver.execute_script(small) == []  # a conversation


def test_a_banner_dismissed_leaves_the_focus_somewhere(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found dismissing an error with the keyboard: Enter on its × hid the banner and
    the focus with it, back to the page's start. The focus now goes on to the message
    box."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        driver.find_element(By.ID, "show-members").click()
        type_into(driver, "invite-name", "nobody_by_that_name")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: shown(d, "alert"))
        focus_on(driver, "#alert-close")
        keys(driver, Keys.ENTER)
        assert not shown(driver, "alert")
        assert focus(driver)["id"] == "message-input"


def test_a_deletion_next_to_the_new_messages_line_keeps_the_focus(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found deleting, as the room's owner, the one unread message: the line before it
    was "New messages", which takes no focus, so the focus went nowhere. It goes to the
    nearest line that takes it, else the list."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me, _ = registered(alice, "alice"), registered(bob, "bob")
        room, quiet = (alice.ok("create_room", name=unique(n))["room"] for n in ("a", "b"))
        bob.ok("join_room", room_id=room["id"])
        signed_in(server, driver, me["token"])
        open_room(driver, quiet["name"])
        theirs = bob.ok("send_message", target={"type": "room", "room_id": room["id"]},
                        content="unread")["message"]["id"]  # fmt: skip
        badge = f'li[data-key="room:{room["id"]}"] .badge'
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, badge))
        open_room(driver, room["name"])
        delete = f'#messages li[data-id="{theirs}"] .delete'
        wait_for(driver, lambda d: d.execute_script(
            "return document.querySelector(arguments[0])?.checkVisibility()", delete))  # fmt: skip
        assert (
            driver.execute_script(
                "return document.querySelector(arguments[0]).parentElement.parentElement"
                ".previousElementSibling.className",
                delete,
            )
            == "new-marker"
        )
        focus_on(driver, delete)
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        click(driver, By.ID, "confirm-yes")
        wait_for(driver, lambda d: not showing("unread")(d))
        assert focus(driver)["id"] == "messages"


def test_each_side_list_is_one_tab_stop(server: ServerProcess, driver: webdriver.Chrome):
    """Found tabbing from *Find a room* to *Find someone* with 30 public rooms listed:
    30 stops, one per room (and 100 with a page of them, as many for people). Each list
    is now one stop, its entries reached with Up, Down, Home and End; it stays one
    stop, on the entry with the focus, when events redraw it."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me = registered(alice, "alice")
        registered(bob, "bob")
        rooms = created_rooms(bob, [f"public_{n:02}_{unique('r')}" for n in range(30)])
        names = sorted(room["name"] for room in rooms)
        signed_in(server, driver, me["token"])
        wait_for(driver, lambda d: len(listed(d, "public-list")) == 30)
        focus_on(driver, "#public-search")
        assert tabs_to(driver, "people-search") == 2
        focus_on(driver, "#public-search")
        keys(driver, Keys.TAB)
        assert driver.execute_script("return document.activeElement.textContent") == names[0]
        keys(driver, Keys.ARROW_DOWN)
        keys(driver, Keys.ARROW_DOWN)
        assert driver.execute_script("return document.activeElement.textContent") == names[2]
        keys(driver, Keys.END)
        assert driver.execute_script("return document.activeElement.textContent") == names[-1]
        keys(driver, Keys.HOME, Keys.ARROW_DOWN)
        # A message from bob redraws the lists: still one stop, the focused entry.
        bob.ok("send_message", target={"type": "dm", "recipient": me["user"]["id"]}, content="hi")
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "#user-list .badge"))
        stops = driver.execute_script(
            "return [...document.querySelectorAll('#public-list button')]"
            ".filter((b) => b.tabIndex === 0).map((b) => b.textContent)"
        )
        assert stops == [names[1]]
        assert driver.execute_script("return document.activeElement.textContent") == names[1]
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {names[1]}")


def test_a_phone_shows_what_is_unread_elsewhere(server: ServerProcess, driver: webdriver.Chrome):
    """Found reading one room on a phone while another got messages: the lists (with
    their counts) were out of sight, and a mobile browser hardly shows the tab's title,
    so nothing said so. *Conversations* now carries the count."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, other) = two_users_in_two_rooms(alice, bob)
        driver.set_window_size(360, 740)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        assert accessible(driver, "#back")["name"] == "Conversations"
        for n in range(2):
            bob.ok("send_message", target={"type": "room", "room_id": other["id"]}, content=f"{n}")
        wait_for(driver, lambda d: text_of(d, "back") == "Conversations 2")
        assert driver.find_element(By.CSS_SELECTOR, "#back .badge").is_displayed()
        assert accessible(driver, "#back")["name"] == "Conversations, 2 unread"


def test_the_last_older_page_leaves_the_focus_on_its_messages(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found paging back with *Load older messages* from the keyboard: the last page
    hid the button with the focus on it, so the focus went nowhere. It goes to the
    newest line loaded, where reading goes on upwards (as with *More rooms…* and *More
    people…*, which hide alike)."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        target = {"type": "room", "room_id": room["id"]}
        for n in range(55):
            bob.send({"type": "send_message", "target": target, "content": f"m {n:02}"})
        for _ in range(55):
            bob.wait_for(lambda m: m["type"] == "send_message_response")
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        wait_for(driver, showing("m 54"))
        focus_on(driver, "#load-older")
        keys(driver, Keys.ENTER)
        wait_for(driver, showing("m 00"))
        assert not shown(driver, "load-older")
        assert (
            driver.execute_script(
                "const f = document.activeElement;"
                " return f.tagName === 'LI' ? f.querySelector('.content').textContent : f.tagName"
            )
            == "m 04"
        )


def test_a_touch_screen_opens_a_conversation_without_its_keyboard(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found with touch emulated at phone width: opening a conversation focused the
    message box, which on a phone brings the on-screen keyboard up over half the
    screen, at every room opened. On a touch screen the conversation's title takes the
    focus (a screen reader still lands in the conversation)."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        driver.execute_cdp_cmd("Emulation.setTouchEmulationEnabled", {"enabled": True})
        driver.set_window_size(360, 740)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        assert focus(driver)["id"] == "conversation-title"


def test_the_chat_has_a_title_heading_and_esc_closes_the_members(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found navigating the chat by headings, as screen reader users do: it had none at
    the top (h2s only; the only h1 was the login form's, hidden). The bar's *lairchat*
    is now its h1. And found closing the member list from the keyboard: only the
    *Members* button did, several Shift+Tabs away; Esc in the list closes it now, the
    focus back on the button."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        headings = driver.execute_script(
            "return [...document.querySelectorAll('h1')].filter((h) => h.checkVisibility())"
            ".map((h) => h.textContent)"
        )
        assert headings == ["lairchat"]
        driver.find_element(By.ID, "show-members").click()
        wait_for(driver, lambda d: len(listed(d, "member-list")) == 2)
        focus_on(driver, "#invite-name")
        keys(driver, Keys.ESCAPE)
        assert not shown(driver, "members")
        assert focus(driver)["id"] == "show-members"
        assert driver.find_element(By.ID, "show-members").get_attribute("aria-expanded") == "false"


def test_presence_shows_in_a_high_contrast_mode(server: ServerProcess, driver: webdriver.Chrome):
    """Found with forced colors emulated (Windows' high-contrast themes): every
    background becomes the window's, so a person's online dot and offline dot were both
    white on white, gone. There, online is now a filled dot and offline a ring."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, _ = two_users_in_two_rooms(alice, bob)
        away = unique("away")
        registered_over_rest(server, [away])
        features = [{"name": "forced-colors", "value": "active"}]
        driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"features": features})
        signed_in(server, driver, accounts[0]["token"])
        wait_for(driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".presence.online")) >= 1)
        wait_for(
            driver, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".presence:not(.online)")) >= 1
        )
        dots = driver.execute_script(
            """return ['.presence.online', '.presence:not(.online)'].map((selector) => {
                 const style = getComputedStyle(document.querySelector(selector));
                 return [style.backgroundColor, style.borderTopColor, style.borderTopStyle];
               })"""
        )
        online, offline = dots
        page = driver.execute_script("return getComputedStyle(document.body).backgroundColor")
        assert online[0] != offline[0], dots
        assert offline[2] != "none" and offline[1] != page, dots


def test_a_search_says_what_it_found(server: ServerProcess, driver: webdriver.Chrome):
    """Found searching with a screen reader: typing in *Find someone* or *Find a room*
    changed the list below in silence. Once the server has answered, what was found
    is now said."""
    tag = unique("t")
    registered_over_rest(server, [f"{tag}_a", f"{tag}_b"])
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        registered(alice, "alice")
        created_rooms(alice, [f"{tag}_room"])
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": LISTEN})
        signed_in(server, driver, registered(bob, "bob")["token"])
        type_into(driver, "people-search", tag)
        wait_for(driver, lambda d: spoken(d)[-1] == ["announcer", "2 people found"])
        type_into(driver, "people-search", "nobody at all")
        wait_for(driver, lambda d: spoken(d)[-1] == ["announcer", "Nobody found."])
        type_into(driver, "public-search", tag)
        wait_for(driver, lambda d: spoken(d)[-1] == ["announcer", "1 public room found"])


#: The heights that share a phone's screen: the top bar, the room's head, the message
#: list, and the window's.
HEIGHTS = """const h = (s) => document.querySelector(s).getBoundingClientRect().height;
return {bar: h('.topbar'), head: h('.conversation-head'), list: h('#messages'),
        window: innerHeight};"""


def test_a_phone_gives_the_messages_the_screen_and_its_menu_the_keyboard(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found measuring the page at 360×740: the top bar took five lines (200 px, every
    account action a button), the room's head three (118 px), the message box 150 px:
    the message list had 110 px of the window's 597, under a fifth. Now the account's
    actions are one *Account* menu, the room's buttons one row, *Send* beside the box:
    the list has at least 60 % of the window. The menu is a real one, walked from the
    keyboard: Enter opens it on its first item, Down and Up go round, Home and End,
    Esc closes it with the focus back on *Account*, Up on *Account* opens it on its
    last item, Tab leaves it closed; a dialog opened from it gives the focus back to
    *Account*. A wide window keeps the buttons in the bar."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        driver.set_window_size(360, 740)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        wait_for(driver, lambda d: text_of(d, "show-pins").startswith("Pinned ("))
        size = driver.execute_script(HEIGHTS)
        assert size["list"] >= 0.6 * size["window"], size
        # The room's buttons on one line.
        tops = driver.execute_script(
            """return [...document.querySelectorAll('.head-actions > button')]
                 .filter((b) => b.checkVisibility()).map((b) => b.getBoundingClientRect().top)"""
        )
        assert len(tops) >= 3 and len(set(tops)) == 1, tops

        button = driver.find_element(By.ID, "account-button")
        assert button.get_attribute("aria-haspopup") == "menu"
        assert button.get_attribute("aria-expanded") == "false"
        assert not driver.find_element(By.ID, "change-password").is_displayed()
        focus_on(driver, "#account-button")
        keys(driver, Keys.ENTER)
        assert button.get_attribute("aria-expanded") == "true"
        name = accounts[0]["user"]["username"]
        assert accessible(driver, "#account-menu")["name"] == f"Signed in as {name}"
        items = ["notify", "change-password", "two-factor", "download-data", "delete-account"]
        items += ["show-sessions", "logout"]
        walked = [focus(driver)["id"]]
        for _ in items:
            keys(driver, Keys.ARROW_DOWN)
            walked.append(focus(driver)["id"])
        assert walked == [*items, items[0]]  # round
        roles = driver.execute_script(
            "return arguments[0].map((id) => document.getElementById(id).getAttribute('role'))",
            items,
        )
        assert roles == ["menuitemcheckbox"] + ["menuitem"] * 6
        keys(driver, Keys.ARROW_UP)
        assert focus(driver)["id"] == "logout"
        keys(driver, Keys.HOME)
        assert focus(driver)["id"] == "notify"
        keys(driver, Keys.END)
        assert focus(driver)["id"] == "logout"
        keys(driver, Keys.ESCAPE)
        assert focus(driver)["id"] == "account-button"
        assert button.get_attribute("aria-expanded") == "false"
        assert not driver.find_element(By.ID, "logout").is_displayed()
        keys(driver, Keys.ARROW_UP)
        assert focus(driver)["id"] == "logout"
        keys(driver, Keys.TAB)
        assert button.get_attribute("aria-expanded") == "false"
        assert focus(driver)["id"] not in items

        # A dialog opened from the menu gives the focus back to *Account* (its button
        # is hidden in the closed menu).
        account_action(driver, "change-password")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: d.find_element(By.ID, "password-dialog").is_displayed())
        assert button.get_attribute("aria-expanded") == "false"
        keys(driver, Keys.ESCAPE)
        wait_for(driver, lambda d: focus(d)["id"] == "account-button")

        # A wide window: the buttons in the bar, no menu.
        driver.set_window_size(1200, 740)
        wait_for(driver, lambda d: d.find_element(By.ID, "change-password").is_displayed())
        assert not button.is_displayed()
        assert driver.find_element(By.ID, "account-menu").get_attribute("role") is None
        assert driver.find_element(By.ID, "logout").get_attribute("tabindex") is None
        assert errors_logged(driver) == []
