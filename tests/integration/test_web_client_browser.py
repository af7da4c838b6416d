"""The browser client (lairchat/web, docs/WEB.md) in a real browser against a real server.

lairchat runs as ``twistd -n lairchat`` on loopback ports with its defaults (the web
client on, ``/ws`` open to the server's own origin only); headless Chromium opens
``http://127.0.0.1:<port>/`` (tests/integration/browser.py). A browser user registers,
creates a room, and chats with a TCP user (this test) both ways; hostile text is shown
literally and runs nothing; older history pages in; a reload keeps the session and the
history; a direct message goes both ways; a session ended elsewhere sends the page back
to the login form with the reason; logging in again and out works. The browser console
must stay free of errors (a script, style or connection refused by the page's
Content-Security-Policy is one).

Smaller tests, each on its own server or page: busy rooms (order, at most 500 messages
kept), long names at phone and desktop widths, the message box (typing per
conversation, drafts, a message sent while switching away, sizes over the limits),
keyboard focus, a room left while disconnected, a server restarted on the same port
and database, and an `internal_error` at sign-in; the token sent in frames, never in the `/ws` URL;
the hidden characters of tests/fixtures/hidden_characters.json; editing and deleting
messages; invitations, members and kicks; lists longer than a page; the "New messages"
line and the unread count in the title. Where the server cannot be made to
answer a certain way, the page's WebSocket is wrapped before its script runs
(``INCOMING``).
"""

from __future__ import annotations

import http.client
import json
import re
import sqlite3
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import Message, TCPClient
from tests.integration import browser
from tests.integration.browser import chromium, click, console, rest, wait_for

SECRET = "web-client-test-secret-0123456789abcdef"
PASSWORD = "correct horse battery"
#: Markup, a script end tag, a right-to-left override and a terminal escape.
HOSTILE = (
    '<img src=x onerror="window.__xss=1"></script><script>window.__xss=2</script>'
    "\u202etxt.exe\x1b[31m"
)
#: How the page must show it: the same characters, the two invisible ones as marks.
HOSTILE_SHOWN = HOSTILE.replace("\u202e", "U+202E").replace("\x1b", "\u241b")
#: Messages sent to fill more than one page of history (a page is 50).
FILLER = 55


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path, secret=SECRET)
    yield srv
    srv.stop()


driver = browser.driver  # the shared fixture


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# -- reading the page ------------------------------------------------------------------


def text_of(chrome: webdriver.Chrome, element_id: str) -> str:
    return chrome.execute_script(
        "return document.getElementById(arguments[0]).textContent", element_id
    )


def shown(chrome: webdriver.Chrome, element_id: str) -> bool:
    return chrome.execute_script("return !document.getElementById(arguments[0]).hidden", element_id)


def messages(chrome: webdriver.Chrome) -> list[dict[str, str]]:
    """The open conversation as shown: author and content of every line (but the
    "New messages" line)."""
    return chrome.execute_script(
        """return [...document.querySelectorAll('#messages li:not(.new-marker)')].map((li) => ({
             author: li.querySelector('.author')?.textContent ?? '',
             content: li.querySelector('.content')?.textContent ?? li.textContent}))"""
    )


def showing(content: str, author: str | None = None) -> Callable[[webdriver.Chrome], bool]:
    def check(chrome: webdriver.Chrome) -> bool:
        return any(
            m["content"] == content and author in (None, m["author"]) for m in messages(chrome)
        )

    return check


def connected(chrome: webdriver.Chrome) -> bool:
    return text_of(chrome, "connection") == "Connected" and shown(chrome, "chat-view")


def type_into(chrome: webdriver.Chrome, element_id: str, text: str) -> None:
    field = chrome.find_element(By.ID, element_id)
    field.clear()
    field.send_keys(text)


def errors_logged(chrome: webdriver.Chrome, network: bool = True) -> list[dict[str, Any]]:
    """The console's errors since the last call; without ``network``, only the page's
    own (script errors, policy violations), not its refused requests."""
    return [
        entry
        for entry in console(chrome)
        if entry["level"] == "SEVERE" and (network or entry["source"] != "network")
    ]


def inert(chrome: webdriver.Chrome) -> None:
    """Nothing hostile ran or became markup."""
    assert chrome.execute_script("return window.__xss") is None
    assert chrome.execute_script("return document.querySelectorAll('img').length") == 0
    assert chrome.execute_script("return document.scripts.length") == 1


def unread(chrome: webdriver.Chrome, selector: str) -> str | None:
    return chrome.execute_script(
        "return document.querySelector(arguments[0])?.textContent", selector
    )


def reconnected(chrome: webdriver.Chrome) -> bool:
    """The status went from a drop back to "Connected" (``window.statuses`` records it)."""
    statuses = chrome.execute_script("return window.statuses")
    drops = [i for i, status in enumerate(statuses) if status.startswith("Disconnected")]
    return bool(drops) and "Connected" in statuses[drops[0] :]


def from_browser(content: str) -> Callable[[Message], bool]:
    return lambda m: m["type"] == "message_received" and m["message"]["content"] == content


# -- the tests -------------------------------------------------------------------------------


def test_served_over_real_http(server: ServerProcess) -> None:
    """What in-memory requests do not show: the lengths and a 304 on the wire."""
    connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
    try:
        connection.request("GET", "/", headers={"Host": f"127.0.0.1:{server.http_port}"})
        page = connection.getresponse()
        body = page.read()
        assert page.status == 200 and page.getheader("Content-Length") == str(len(body))
        assert page.getheader("Content-Type") == "text/html; charset=utf-8"
        # For this origin only: none of the API's CORS headers.
        assert page.getheader("Access-Control-Allow-Origin") is None
        sockets = f"ws://127.0.0.1:{server.http_port} wss://127.0.0.1:{server.http_port};"
        assert f"connect-src 'self' {sockets}" in page.getheader("Content-Security-Policy")
        etag = page.getheader("ETag")
        connection.request("GET", "/", headers={"If-None-Match": etag})
        again = connection.getresponse()
        assert again.read() == b"" and again.status == 304
        assert again.getheader("Content-Length") is None and again.getheader("ETag") == etag
        connection.request("HEAD", "/app/app.js")
        head = connection.getresponse()
        assert head.read() == b"" and int(head.getheader("Content-Length")) > 1000
        connection.request("GET", "/app/missing.js")
        missing = connection.getresponse()
        assert missing.status == 404
        assert json.loads(missing.read())["error"]["code"] == "not_found"
    finally:
        connection.close()
    assert "HEAD request" not in server.log()  # Twisted's "I think I'll eat it" line


def test_a_browser_user_chats_with_a_tcp_user(server: ServerProcess, driver: webdriver.Chrome):
    alice = unique("web")
    driver.get(server.url + "/")
    wait_for(driver, lambda d: shown(d, "login-view"))

    # Register in the page: the token goes to sessionStorage, never localStorage.
    type_into(driver, "register-username", alice)
    type_into(driver, "register-email", f"{alice}@example.com")
    type_into(driver, "register-password", PASSWORD)
    driver.find_element(By.CSS_SELECTOR, "#register-form button").click()
    wait_for(driver, connected)
    assert text_of(driver, "me") == alice
    assert driver.execute_script("return sessionStorage.getItem('lairchat.token')")
    assert driver.execute_script("return localStorage.length") == 0

    # A room whose name is markup: shown as text.
    tag = uuid.uuid4().hex[:8]
    room_name = f"<img src=x onerror=window.__xss=3> {tag}"
    type_into(driver, "new-room-name", room_name)
    driver.find_element(By.CSS_SELECTOR, "#create-room-form button").click()
    wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {room_name}")
    assert text_of(driver, "room-list") == room_name

    bob = TCPClient.connect(server.tcp_port)
    try:
        bob.hello()
        bob_name = unique("tcp")
        bob_user = bob.ok(
            "register", username=bob_name, email=f"{bob_name}@example.com", password=PASSWORD
        )["user"]
        room_id = bob.ok("list_rooms", filter={"search": tag})["rooms"][0]["room"]["id"]
        alice_id = bob.ok("list_users", filter={"search": alice})["users"][0]["id"]
        bob.ok("join_room", room_id=room_id)
        room = {"type": "room", "room_id": room_id}
        wait_for(driver, showing(f"{bob_name} joined the room"))
        bob_item = f'#user-list li[data-key="dm:{bob_user["id"]}"]'
        # The lists follow events within 100 ms (redrawn once for a burst of them).
        wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"{bob_item} .presence.online"))

        # A refused command is shown, not swallowed.
        type_into(driver, "new-room-name", room_name)
        driver.find_element(By.CSS_SELECTOR, "#create-room-form button").click()
        wait_for(driver, lambda d: shown(d, "alert"))
        assert text_of(driver, "alert-text") == "Room name already taken"
        driver.find_element(By.ID, "alert-close").click()
        type_into(driver, "new-room-name", "")

        # TCP -> browser, and typing shown.
        bob.send({"type": "typing", "target": room})
        wait_for(driver, lambda d: text_of(d, "typing") == f"{bob_name} is typing…")
        bob.ok("send_message", target=room, content="hello from tcp")
        wait_for(driver, showing("hello from tcp", bob_name))
        assert text_of(driver, "typing") == ""

        # Browser -> TCP: Enter sends, Shift+Enter is a new line.
        box = driver.find_element(By.ID, "message-input")
        box.send_keys("hello from the browser", Keys.ENTER)
        got = bob.wait_for(from_browser("hello from the browser"))
        assert got["author_username"] == alice and got["message"]["target"] == room
        box.send_keys("line one")
        ActionChains(driver).key_down(Keys.SHIFT).send_keys(Keys.ENTER).key_up(Keys.SHIFT).perform()
        box.send_keys("line two", Keys.ENTER)
        bob.wait_for(from_browser("line one\nline two"))
        wait_for(driver, showing("line one\nline two", alice))
        assert box.get_attribute("value") == ""

        # Hostile text: literal, inert, the invisible characters visible.
        bob.ok("send_message", target=room, content=HOSTILE)
        wait_for(driver, showing(HOSTILE_SHOWN, bob_name))
        inert(driver)
        marks = driver.execute_script(
            "return [...document.querySelectorAll('#messages .escaped')].map(e => e.textContent)"
        )
        assert marks == ["U+202E", "\u241b"]

        # A message cannot fake another: its second line (here after a newline) is
        # indented past where message lines start.
        fake = f"hi\n12:01 admin: {tag} enter your password"
        bob.ok("send_message", target=room, content=fake)
        wait_for(driver, showing(fake, bob_name))
        start, second = driver.execute_script(
            """const li = [...document.querySelectorAll('#messages li')]
                 .find(l => l.textContent.includes(arguments[0]));
               const lines = li.querySelector('.content').getClientRects();
               return [li.getBoundingClientRect().left, lines[lines.length - 1].left];""",
            f"{tag} enter",
        )
        assert second - start >= 16, (start, second)

        # Edits and deletions arrive live.
        edited = bob.ok("send_message", target=room, content="typo")["message"]["id"]
        wait_for(driver, showing("typo", bob_name))
        bob.ok("edit_message", message_id=edited, content="fixed")
        wait_for(driver, showing("fixed", bob_name))
        assert "(edited)" in text_of(driver, "messages")
        bob.ok("delete_message", message_id=edited)
        wait_for(driver, lambda d: "fixed" not in [m["content"] for m in messages(d)])

        # More than a page of history, sent in one go.
        for n in range(FILLER):
            bob.send({"type": "send_message", "target": room, "content": f"filler {n:02}"})
        wait_for(driver, showing(f"filler {FILLER - 1:02}", bob_name))

        lobby = f"lobby {tag}"
        bob.ok("create_room", name=lobby, description="bob's <i>public</i> room")

        # A reload keeps the session (sessionStorage) and reopens the room, newest page
        # first; the older page comes in on request.
        driver.refresh()
        wait_for(driver, connected)
        wait_for(driver, showing(f"filler {FILLER - 1:02}"))
        assert text_of(driver, "conversation-title") == f"Room {room_name}"
        shown_now = [m["content"] for m in messages(driver)]
        assert len(shown_now) == 50 and "hello from tcp" not in shown_now
        assert shown(driver, "load-older")
        driver.find_element(By.ID, "load-older").click()
        wait_for(driver, showing("hello from tcp", bob_name))
        contents = [m["content"] for m in messages(driver)]
        assert contents[:6] == [
            "hello from tcp",
            "hello from the browser",
            "line one\nline two",
            HOSTILE_SHOWN,
            fake,
            "filler 00",
        ]
        assert contents[-1] == f"filler {FILLER - 1:02}"
        wait_for(driver, lambda d: not shown(d, "load-older"))
        inert(driver)

        # Join a public room from the list, then leave it.
        assert lobby in text_of(driver, "public-list")
        driver.find_element(By.XPATH, f'//ul[@id="public-list"]//button[.="{lobby}"]').click()
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {lobby}")
        assert text_of(driver, "conversation-description") == "bob's <i>public</i> room"
        assert lobby in text_of(driver, "room-list") and lobby not in text_of(driver, "public-list")
        driver.find_element(By.ID, "leave-room").click()
        wait_for(driver, lambda d: lobby not in text_of(d, "room-list"))
        wait_for(driver, lambda d: lobby in text_of(d, "public-list"))
        assert text_of(driver, "conversation-title") == "No conversation open"

        # A direct message from bob: unread on his name, then a conversation both ways.
        bob.ok("send_message", target={"type": "dm", "recipient": alice_id}, content="psst")
        wait_for(driver, lambda d: unread(d, f"{bob_item} .badge") == "1")
        click(driver, By.CSS_SELECTOR, f"{bob_item} button")
        wait_for(driver, showing("psst", bob_name))
        assert text_of(driver, "conversation-title") == f"Direct messages with {bob_name}"
        driver.find_element(By.ID, "message-input").send_keys("hi bob", Keys.ENTER)
        got = bob.wait_for(from_browser("hi bob"))
        assert got["message"]["target"] == {"type": "dm", "recipient": bob_user["id"]}
        wait_for(driver, showing("hi bob", alice))

        assert errors_logged(driver) == []

        # The session ends elsewhere: the page reconnects, is refused, and says why.
        token = driver.execute_script("return sessionStorage.getItem('lairchat.token')")
        rest(server, "POST", "/auth/logout", token=token)
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert "session ended" in text_of(driver, "login-reason")
        assert text_of(driver, "messages") == "" and bob_name not in text_of(driver, "user-list")
        assert driver.execute_script("return sessionStorage.length") == 0

        # Log in again, then out.
        type_into(driver, "login-identifier", alice)
        type_into(driver, "login-password", PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait_for(driver, connected)
        wait_for(driver, lambda d: text_of(d, "user-list") == bob_name)
        assert text_of(driver, "conversation-title") == "No conversation open"
        driver.find_element(By.ID, "logout").click()
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert text_of(driver, "login-reason") == "You are logged out."
        assert driver.execute_script("return sessionStorage.length") == 0
        assert errors_logged(driver, network=False) == []
    finally:
        bob.close()


def test_the_page_reconnects_and_reports_what_the_server_says(tmp_path: Path) -> None:
    """Rate limits on and a short idle timeout: the server dropping an idle connection
    is followed by a new, authenticated one; refused sign-ups say when to retry; the
    shutdown notice is shown."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_RATE_LIMITS="on", LAIR_IDLE_TIMEOUT="2")
    try:
        with chromium() as driver:
            driver.get(server.url + "/")
            name = unique("web")
            type_into(driver, "register-username", name)
            type_into(driver, "register-email", f"{name}@example.com")
            type_into(driver, "register-password", PASSWORD)
            driver.find_element(By.CSS_SELECTOR, "#register-form button").click()
            wait_for(driver, connected)
            driver.execute_script(
                """window.statuses = [];
                   new MutationObserver(() => statuses.push(
                     document.getElementById('connection').textContent))
                   .observe(document.getElementById('connection'), {childList: true});"""
            )
            # The server closes the idle connection (timeout); the page connects again.
            wait_for(driver, reconnected)
            assert text_of(driver, "me") == name
            chat = driver.current_window_handle

            # Another tab (sessionStorage is per tab: signed out there). A sign-up refused
            # by the rules, then by the auth rate limit (10 a minute, one used above).
            driver.switch_to.new_window("tab")
            driver.get(server.url + "/")
            wait_for(driver, lambda d: shown(d, "login-view"))
            type_into(driver, "register-username", "not-a-name")  # the form's rules pass
            type_into(driver, "register-email", "x@example.com")
            type_into(driver, "register-password", PASSWORD)
            button = driver.find_element(By.CSS_SELECTOR, "#register-form button")
            button.click()
            wait_for(driver, lambda d: text_of(d, "login-reason").startswith("Username invalid"))
            for _ in range(10):
                button.click()
                wait_for(driver, lambda d: button.is_enabled())
                if text_of(driver, "login-reason").startswith("Too many"):
                    break
            reason = text_of(driver, "login-reason")
            assert re.fullmatch(r"Too many requests: try again in [0-9]+ s\.", reason), reason
            driver.close()
            driver.switch_to.window(chat)

            # Stopped just after a fresh connection (the idle timeout keeps closing
            # them): the notice reaches the page before it goes.
            driver.execute_script("window.statuses = []")
            wait_for(driver, reconnected)
            server.stop()
            wait_for(driver, lambda d: text_of(d, "notice-text") == "Server is shutting down")
            assert "warning" in driver.find_element(By.ID, "notice").get_attribute("class")
            wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
            assert errors_logged(driver, network=False) == []
    finally:
        server.stop()


#: The characters both clients mark, and text they must leave alone (one list for both).
HIDDEN_CHARACTERS = Path(__file__).resolve().parents[1] / "fixtures" / "hidden_characters.json"


def hidden_characters() -> tuple[list[str], list[str]]:
    """Every code point the fixture says is marked, and every text it says is kept."""
    data = json.loads(HIDDEN_CHARACTERS.read_text())
    marked = [
        chr(code)
        for entry in data["marked"]
        for code in range(int(entry["first"], 16), int(entry["last"], 16) + 1)
    ]
    return marked, [entry["text"] for entry in data["kept"]]


#: An emoji tag sequence (a subdivision flag): its tag characters are not marked.
FLAG = re.compile("\U0001f3f4[\U000e0020-\U000e007e]+\U000e007f")


def as_marked(text: str, marked: set[str]) -> str:
    """``text`` as the page must show it: each marked character as ``U+XXXX``."""
    shown, last = [], 0
    for flag in [*FLAG.finditer(text), None]:
        end = flag.start() if flag else len(text)
        shown += [f"U+{ord(c):04X}" if c in marked else c for c in text[last:end]]
        if flag:
            shown.append(flag.group())
            last = flag.end()
    return "".join(shown)


def test_hidden_characters_are_marked_and_the_rest_kept(
    server: ServerProcess, driver: webdriver.Chrome
):
    """What tests/fixtures/hidden_characters.json lists as marked is shown as `U+XXXX`
    (tag characters too, but not in a flag's emoji tag sequence); what it lists as kept
    (emoji sequences, ZWNJ in Persian, variation selectors, combining marks) is shown
    as it is: in a message, in room names and in a user name.

    The server now refuses such names (lairchat.domain.hidden), so the rooms and the
    user with them are written into the database, as one from before that rule, or
    written by another tool, would have them."""
    marked, kept = hidden_characters()
    hidden = set(marked)
    broken_flag = "\U0001f3f4\U000e0067"  # tags not ending in U+E007F: marked
    tag = uuid.uuid4().hex[:6]
    with TCPClient.connect(server.tcp_port) as alice:
        alice.hello()
        name = unique("hid")
        account = alice.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
        # A blank-looking name: letters to str.isalnum, a Hangul filler between.
        filler = f"h\u3164{tag}"
        plant(
            server,
            "INSERT INTO users VALUES (?, ?, ?, 'x', 'user', 0, 0, NULL)",
            str(uuid.uuid4()),
            filler,
            f"{tag}@e.com",
        )

        # Room names (64 bytes at most): the ends of every range, and each kept text.
        data = json.loads(HIDDEN_CHARACTERS.read_text())
        ends = [chr(int(e[end], 16)) for e in data["marked"] for end in ("first", "last")]
        names, current = [], ""
        for piece in [*ends, *kept, broken_flag]:
            if current and len(f"{current}|{piece}".encode()) > 56:
                names.append(current)
                current = ""
            current = f"{current}|{piece}" if current else f"{tag}{len(names):02}{piece}"
        names.append(current)
        for room_name in names:
            room_id = str(uuid.uuid4())
            plant(
                server,
                "INSERT INTO rooms VALUES (?, ?, NULL, ?, 0, NULL, 0, 0)",
                room_id,
                room_name,
                account["user"]["id"],
            )
            plant(
                server,
                "INSERT INTO room_memberships VALUES (?, ?, 'owner', 0)",
                room_id,
                account["user"]["id"],
            )
        plain = alice.ok("create_room", name=f"{tag}-plain")["room"]
        names.append(plain["name"])
        signed_in(server, driver, account["token"])
        wait_for(driver, lambda d: len(rooms_shown(d)) == len(names))
        assert sorted(rooms_shown(driver)) == sorted(as_marked(n, hidden) for n in names)
        wait_for(driver, lambda d: f"hU+3164{tag}" in text_of(d, "user-list"))

        # A message with all of them.
        click(driver, By.CSS_SELECTOR, f'li[data-key="room:{plain["id"]}"] button')
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {plain['name']}")
        content = " ".join([*marked, *kept, broken_flag])
        target = {"type": "room", "room_id": plain["id"]}
        alice.ok("send_message", target=target, content=content)
        wait_for(driver, showing(as_marked(content, hidden)))
        marks = driver.execute_script(
            "return document.querySelectorAll('#messages .content .escaped').length"
        )
        assert marks == len(marked) + 1
        assert errors_logged(driver) == []


def test_paging_from_a_pruned_message_starts_from_the_newest(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Retention deletes old messages with no event: the oldest one shown may be gone
    when the page asks for what came before it (the server: message_not_found)."""
    with TCPClient.connect(server.tcp_port) as alice:
        alice.hello()
        name = unique("old")
        account = alice.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
        room = alice.ok("create_room", name=f"{name} room")["room"]
        target = {"type": "room", "room_id": room["id"]}
        for n in range(60):
            alice.ok("send_message", target=target, content=f"note {n:02}")
    signed_in(server, driver, account["token"])
    open_room(driver, room["name"])
    wait_for(driver, lambda d: len(messages(d)) == 50)
    assert shown(driver, "load-older")
    # What a retention pass does: the oldest 15, the oldest one shown among them.
    plant(server, "DELETE FROM messages WHERE content < 'note 15' AND target_id = ?", room["id"])
    driver.find_element(By.ID, "load-older").click()
    wait_for(driver, lambda d: not shown(d, "load-older"))
    contents = [m["content"] for m in messages(driver)]
    assert contents == [f"note {n:02}" for n in range(15, 60)]
    assert not shown(driver, "alert")
    assert errors_logged(driver) == []


def focused_text(chrome: webdriver.Chrome) -> str:
    """The focused element's text, read in one step: a list redrawn between finding
    the element and reading it would make a found element stale."""
    return chrome.execute_script("return document.activeElement.textContent")


def plant(server: ServerProcess, sql: str, *values: str) -> None:
    """Write a row into the running server's database, past the server's own rules."""
    with sqlite3.connect(server.database, timeout=30) as db:
        db.execute(sql, values)


def rooms_shown(chrome: webdriver.Chrome) -> list[str]:
    return chrome.execute_script(
        "return [...document.querySelectorAll('#room-list li button')].map(b => b.textContent)"
    )


def signed_in(server: ServerProcess, chrome: webdriver.Chrome, token: str) -> None:
    """The page open with ``token`` in its sessionStorage, as after a login."""
    chrome.get(server.url + "/")
    chrome.execute_script("sessionStorage.setItem('lairchat.token', arguments[0])", token)
    chrome.refresh()
    wait_for(chrome, connected)


def two_users_in_two_rooms(alice: TCPClient, bob: TCPClient) -> tuple[list[Message], list[Any]]:
    """Both register over TCP (the answers hold their tokens); bob creates two rooms,
    which alice joins."""
    accounts = []
    for client in (alice, bob):
        client.hello()
        name = unique("user")
        accounts.append(
            client.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
        )
    rooms = [bob.ok("create_room", name=unique(n))["room"] for n in ("one", "two")]
    for room in rooms:
        alice.ok("join_room", room_id=room["id"])
    return accounts, rooms


def open_room(chrome: webdriver.Chrome, name: str) -> None:
    click(chrome, By.XPATH, f'//ul[@id="room-list"]//button[.="{name}"]')
    wait_for(chrome, lambda d: text_of(d, "conversation-title") == f"Room {name}")


def test_busy_rooms_stay_in_order_and_bounded(server: ServerProcess, driver: webdriver.Chrome):
    """A room that got more than a page while closed opens in order, newest page last;
    a room left open while hundreds of messages arrive keeps only the newest 500, and
    pages the others in again."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (quiet, busy) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, quiet["name"])

        # 60 messages while the room is closed: opened, its newest page, in order.
        target = {"type": "room", "room_id": busy["id"]}
        for n in range(60):
            bob.send({"type": "send_message", "target": target, "content": f"early {n:03}"})
        wait_for(driver, lambda d: unread(d, f'li[data-key="room:{busy["id"]}"] .badge') == "60")
        open_room(driver, busy["name"])
        wait_for(driver, showing("early 059"))
        expected = [f"early {n:03}" for n in range(10, 60)]
        wait_for(driver, lambda d: [m["content"] for m in messages(d)] == expected)
        assert shown(driver, "load-older")

        # 520 more while it is open and followed: the page keeps the newest 500.
        for n in range(520):
            bob.send({"type": "send_message", "target": target, "content": f"late {n:03}"})
        wait_for(driver, showing("late 519"))
        expected = [f"late {n:03}" for n in range(20, 520)]
        assert [m["content"] for m in messages(driver)] == expected
        assert driver.execute_script(
            "const l = document.getElementById('messages'); return l.scrollHeight - l.scrollTop"
            " - l.clientHeight < 60"
        )
        # The forgotten ones come back, in order, from the oldest kept.
        driver.find_element(By.ID, "load-older").click()
        wait_for(driver, showing("early 059"))
        contents = [m["content"] for m in messages(driver)]
        older = [f"early {n:03}" for n in range(30, 60)] + [f"late {n:03}" for n in range(20)]
        assert contents == older + expected
        assert errors_logged(driver) == []


def test_long_names_fit_narrow_and_wide_windows(server: ServerProcess, driver: webdriver.Chrome):
    """Unbroken long names, descriptions and messages wrap: no window width, a phone's
    included, scrolls sideways."""
    with TCPClient.connect(server.tcp_port) as alice:
        alice.hello()
        name = unique("long")
        account = alice.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
        room = alice.ok(
            "create_room", name="R" * 60 + uuid.uuid4().hex[:4], description="D" * 1000
        )["room"]
        target = {"type": "room", "room_id": room["id"]}
        alice.ok("send_message", target=target, content="M" * 4096)
        signed_in(server, driver, account["token"])
        open_room(driver, room["name"])
        wait_for(driver, showing("M" * 4096))
        for width in (1200, 360):
            driver.set_window_size(width, 800)
            sideways = driver.execute_script(
                """const page = document.scrollingElement;
                   return [page.scrollWidth, page.clientWidth];"""
            )
            assert sideways[0] <= sideways[1], (width, sideways)
            # The description takes a few lines, not the conversation's place.
            height = driver.execute_script(
                "return document.getElementById('conversation-description').offsetHeight"
            )
            assert height < 100, (width, height)


def test_the_message_box_per_conversation(server: ServerProcess, driver: webdriver.Chrome):
    """The page's own `typing`: once per 3 s per conversation (a second conversation
    within those 3 s is told too), and not for emptying the box. Each conversation has
    its own draft (text typed for one is not sent to another by switching); logging
    out empties the box."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (first, second) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        driver.execute_script(
            """window.typingSent = [];
               const send = WebSocket.prototype.send;
               WebSocket.prototype.send = function (data) {
                 const message = JSON.parse(data);
                 if (message.type === "typing") typingSent.push(message.target);
                 return send.call(this, data);
               };"""
        )
        targets = [{"type": "room", "room_id": room["id"]} for room in (first, second)]
        box = driver.find_element(By.ID, "message-input")
        open_room(driver, first["name"])
        box.send_keys("hel")
        open_room(driver, second["name"])
        box.send_keys("lo")
        got = bob.wait_for(lambda m: m["type"] == "user_typing" and m["target"] == targets[1])
        assert got["user_id"] == accounts[0]["user"]["id"]
        assert box.get_attribute("value") == "lo"
        # Emptied in a third conversation: no typing there.
        click(driver, By.CSS_SELECTOR, f'li[data-key="dm:{accounts[1]["user"]["id"]}"] button')
        wait_for(driver, lambda d: text_of(d, "conversation-title").startswith("Direct"))
        assert box.get_attribute("value") == ""
        driver.execute_script("arguments[0].value = 'x'", box)  # no input event
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        assert box.get_attribute("value") == ""
        assert driver.execute_script("return typingSent") == targets

        # The drafts come back with their conversations; Enter sends each where it was typed.
        open_room(driver, first["name"])
        assert box.get_attribute("value") == "hel"
        box.send_keys(Keys.ENTER)
        assert bob.wait_for(from_browser("hel"))["message"]["target"] == targets[0]
        open_room(driver, second["name"])
        assert box.get_attribute("value") == "lo"
        box.send_keys("gout")
        driver.find_element(By.ID, "logout").click()
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert box.get_attribute("value") == ""


def test_a_conversation_is_marked_read_up_to_what_it_shows(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by the unread-counts review: the page marked read without ``up_to`` (the
    conversation's newest), so a message stored while the request was on its way
    counted as read before the page ever showed it."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (first, _) = two_users_in_two_rooms(alice, bob)
        target = {"type": "room", "room_id": first["id"]}
        sent = [bob.ok("send_message", target=target, content=f"m{n}")["message"] for n in (1, 2)]
        signed_in(server, driver, accounts[0]["token"])
        driver.execute_script(
            """window.markReads = [];
               const send = WebSocket.prototype.send;
               WebSocket.prototype.send = function (data) {
                 const message = JSON.parse(data);
                 if (message.type === "mark_read") markReads.push(message);
                 return send.call(this, data);
               };"""
        )
        open_room(driver, first["name"])
        wait_for(driver, showing("m2"))
        wait_for(driver, lambda d: d.execute_script("return markReads.length") > 0)
        marks = driver.execute_script("return markReads")
        assert [m["up_to"] for m in marks] == [sent[1]["id"]] * len(marks), marks
        assert all(m["target"] == target for m in marks), marks


def test_the_focus_survives_the_lists_being_redrawn(
    server: ServerProcess, driver: webdriver.Chrome
):
    """For keyboard users: a room's button keeps the focus while events redraw the
    lists, and after Leave room (pressed with Enter) the focus is on the room list,
    not nowhere."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (first, second) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, second["name"])
        driver.execute_script("document.getElementById('leave-room').focus()")
        driver.switch_to.active_element.send_keys(Keys.ENTER)
        wait_for(driver, lambda d: second["name"] not in text_of(d, "room-list"))
        wait_for(driver, lambda d: focused_text(d) == first["name"])

        # A message elsewhere redraws the lists (an unread count): the focus stays.
        bob.ok(
            "send_message",
            target={"type": "dm", "recipient": accounts[0]["user"]["id"]},
            content="hi",
        )
        bob_key = f"dm:{accounts[1]['user']['id']}"
        wait_for(driver, lambda d: unread(d, f'li[data-key="{bob_key}"] .badge') == "1")
        assert focused_text(driver) == first["name"]


def test_a_room_left_while_disconnected_is_closed(tmp_path: Path, driver: webdriver.Chrome):
    """The open room was left (elsewhere) while the page was disconnected: when it is
    connected again, the room is closed, not shown as if it still were a member."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_IDLE_TIMEOUT="2")
    try:
        with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
            accounts, (first, second) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, second["name"])
        # The idle timeout closes the page's connection; it comes back within 1 s.
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        with TCPClient.connect(server.tcp_port) as alice:
            alice.hello()
            alice.ok("authenticate", token=accounts[0]["token"])
            alice.ok("leave_room", room_id=second["id"])
        wait_for(driver, lambda d: text_of(d, "connection") == "Connected")
        wait_for(driver, lambda d: text_of(d, "conversation-title") == "No conversation open")
        assert second["name"] not in text_of(driver, "room-list")
        assert text_of(driver, "notice-text") == "You are no longer in that room."
        assert not driver.find_element(By.ID, "message-input").is_enabled()
    finally:
        server.stop()


def in_a_room(server: ServerProcess, chrome: webdriver.Chrome) -> tuple[list[Message], Any]:
    """Two users in two rooms (``two_users_in_two_rooms``), the page signed in as the
    first with the first room open: the accounts, and that room."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
    signed_in(server, chrome, accounts[0]["token"])
    open_room(chrome, room["name"])
    return accounts, room


def restarted(server: ServerProcess, tmp_path: Path) -> ServerProcess:
    """``server`` (stopped) started again on its ports and database."""
    ports = {"LAIR_HTTP_PORT": str(server.http_port), "LAIR_TCP_PORT": str(server.tcp_port)}
    return ServerProcess(tmp_path, secret=SECRET, **ports)


def test_the_page_recovers_when_the_server_restarts(tmp_path: Path, driver: webdriver.Chrome):
    """The server stops (its notice is shown) and starts again on the same port and
    database: the page connects again by itself, drops the stale notice and "not
    connected" error, reopens the room with what was said meanwhile, and chats on."""
    server = ServerProcess(tmp_path, secret=SECRET)
    try:
        accounts, first = in_a_room(server, driver)
        server.stop()
        wait_for(driver, lambda d: text_of(d, "notice-text") == "Server is shutting down")
        wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
        assert not driver.find_element(By.ID, "send").is_enabled()
        type_into(driver, "new-room-name", unique("offline"))
        driver.find_element(By.CSS_SELECTOR, "#create-room-form button").click()
        wait_for(driver, lambda d: text_of(d, "alert-text").startswith("Not connected"))
        server = restarted(server, tmp_path)
        with TCPClient.connect(server.tcp_port) as bob:
            bob.hello()
            bob.ok("authenticate", token=accounts[1]["token"])
            target = {"type": "room", "room_id": first["id"]}
            bob.ok("send_message", target=target, content="said while you were away")
            wait_for(driver, connected, timeout=20)  # the back-off: 1 s, 2 s, 4 s …
            wait_for(driver, showing("said while you were away"))
            assert not shown(driver, "notice") and not shown(driver, "alert")
            driver.find_element(By.ID, "message-input").send_keys("back", Keys.ENTER)
            bob.wait_for(from_browser("back"))
        assert errors_logged(driver, network=False) == []
    finally:
        server.stop()


def actions(chrome: webdriver.Chrome, message_id: str) -> list[str] | None:
    """The buttons a message's line offers (those displayed); None before it is shown."""
    return chrome.execute_script(
        """const li = document.querySelector(`#messages li[data-id="${arguments[0]}"]`);
           if (!li) return null;
           return [...li.querySelectorAll('.actions button')]
             .filter((b) => getComputedStyle(b).display !== 'none').map((b) => b.textContent)""",
        message_id,
    )


def press(chrome: webdriver.Chrome, message_id: str, button: str) -> None:
    """Hover a message's line, then press one of its buttons (``.edit``, ``.delete``)."""
    line = chrome.find_element(By.CSS_SELECTOR, f'#messages li[data-id="{message_id}"]')
    ActionChains(chrome).move_to_element(line).perform()
    line.find_element(By.CSS_SELECTOR, button).click()


def confirm(chrome: webdriver.Chrome) -> None:
    """Say yes to the page's own confirmation (a dialog in the page: window.confirm is
    not used)."""
    click(chrome, By.CSS_SELECTOR, "#confirm[open] #confirm-yes")


def test_an_edit_in_progress_survives_a_reconnect(tmp_path: Path) -> None:
    """The reconnect redraws the conversation: the edit box, its text so far and its
    focus were lost with it."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_IDLE_TIMEOUT="2")
    try:
        # The TCP users only set up: within the 2 s idle timeout, which a browser
        # starting on a busy machine can outlast.
        with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
            accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        with chromium() as driver:
            signed_in(server, driver, accounts[0]["token"])
            open_room(driver, room["name"])
            driver.find_element(By.ID, "message-input").send_keys("tpyo", Keys.ENTER)
            wait_for(driver, showing("tpyo"))
            mine = driver.execute_script(
                "return document.querySelector('#messages li:last-child').dataset.id"
            )
            wait_for(driver, lambda d: actions(d, mine) == ["Edit", "Delete", "React"])
            press(driver, mine, ".edit")
            box = f'li[data-id="{mine}"] .edit-box'
            driver.find_element(By.CSS_SELECTOR, box).send_keys(Keys.END, "!")
            wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
            wait_for(driver, connected)
            wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, box))
            wait_for(
                driver,
                lambda d: d.find_element(By.CSS_SELECTOR, box).get_attribute("value") == "tpyo!",
            )
            assert focused_class(driver) == "edit-box"
            driver.switch_to.active_element.send_keys(Keys.ENTER)
            # Shown as the server answered.
            wait_for(driver, showing("tpyo!"))
            line = driver.find_element(By.CSS_SELECTOR, f'li[data-id="{mine}"]')
            assert line.find_element(By.CSS_SELECTOR, ".edited").text == "(edited)"
            assert not driver.find_elements(By.CSS_SELECTOR, box)
    finally:
        server.stop()


def focused_class(chrome: webdriver.Chrome) -> str:
    return chrome.execute_script("return document.activeElement.className")


def test_own_messages_are_edited_and_deleted(server: ServerProcess, driver: webdriver.Chrome):
    """Edit and Delete on one's own messages (a refusal shows the server's words, an
    edit is marked); Delete on others' room messages appears only for a room owner or
    moderator (here when bob makes alice a moderator, live), as the server allows."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        target = {"type": "room", "room_id": room["id"]}
        theirs = bob.ok("send_message", target=target, content="from bob")["message"]["id"]
        wait_for(driver, showing("from bob"))
        driver.find_element(By.ID, "message-input").send_keys("tpyo", Keys.ENTER)
        mine = bob.wait_for(from_browser("tpyo"))["message"]["id"]
        wait_for(driver, lambda d: actions(d, mine) == ["Edit", "Delete", "React"])
        assert actions(driver, theirs) == ["React"]

        press(driver, mine, ".edit")
        box = driver.find_element(By.CSS_SELECTOR, f'li[data-id="{mine}"] .edit-box')
        assert box.get_attribute("value") == "tpyo" and driver.switch_to.active_element == box
        box.clear()
        box.send_keys(" ", Keys.ENTER)  # blank: refused by the server, which says why
        refusal = "Content invalid: value cannot be empty"
        wait_for(driver, lambda d: text_of(d, "alert-text") == refusal)
        box.clear()
        box.send_keys("typo fixed", Keys.ENTER)
        edited = bob.wait_for(lambda m: m["type"] == "message_edited")
        assert edited["message"]["id"] == mine and edited["message"]["content"] == "typo fixed"
        wait_for(driver, showing("typo fixed"))
        line = driver.find_element(By.CSS_SELECTOR, f'li[data-id="{mine}"]')
        assert line.find_element(By.CSS_SELECTOR, ".edited").text == "(edited)"

        press(driver, mine, ".delete")
        confirm(driver)
        deleted = bob.wait_for(lambda m: m["type"] == "message_deleted")
        assert deleted["message_id"] == mine
        wait_for(driver, lambda d: "typo fixed" not in [m["content"] for m in messages(d)])

        alice_id = accounts[0]["user"]["id"]
        rest(
            server,
            "PUT",
            f"/rooms/{room['id']}/members/{alice_id}/role",
            {"role": "moderator"},
            token=accounts[1]["token"],
        )
        wait_for(driver, lambda d: actions(d, theirs) == ["Delete", "React", "Pin"])
        press(driver, theirs, ".delete")
        confirm(driver)
        deleted = bob.wait_for(lambda m: m["type"] == "message_deleted")
        assert deleted["message_id"] == theirs and deleted["deleted_by"] == alice_id
        wait_for(driver, lambda d: "from bob" not in [m["content"] for m in messages(d)])
        assert errors_logged(driver) == []


def registered(client: TCPClient, prefix: str) -> Message:
    """A new account over ``client`` (said hello first); the answer holds its token."""
    client.hello()
    name = unique(prefix)
    return client.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)


def created_rooms(client: TCPClient, names: list[str]) -> list[dict[str, Any]]:
    """Rooms made over ``client``, the requests pipelined; their room objects."""
    for name in names:
        client.send({"type": "create_room", "name": name})
    return [client.wait_for(lambda m: m["type"] == "create_room_response")["room"]
            for _ in names]  # fmt: skip


def joined(client: TCPClient, rooms: list[dict[str, Any]]) -> None:
    """``client`` joins every room, the requests pipelined; each join must succeed."""
    for room in rooms:
        client.send({"type": "join_room", "room_id": room["id"]})
    for _ in rooms:
        assert client.wait_for(lambda m: m["type"] == "join_room_response")["success"]


def registered_over_rest(server: ServerProcess, names: list[str]) -> None:
    """Accounts that only exist (nobody signs in as them): people to list."""
    for name in names:
        rest(server, "POST", "/auth/register", {"username": name, "email": f"{name}@e.com",
                                               "password": PASSWORD})  # fmt: skip


def listed(chrome: webdriver.Chrome, list_id: str) -> list[str]:
    """The names in a list (its items' first name, ``bdi``), in order."""
    return chrome.execute_script(
        "return [...document.querySelectorAll(`#${arguments[0]} li`)]"
        ".map((li) => li.querySelector('bdi')?.textContent).filter((n) => n !== undefined)",
        list_id,
    )


def test_invitations_and_members(server: ServerProcess, driver: webdriver.Chrome):
    """Alice creates a private room in the page, invites bob by name (unknown names and
    repeated invitations are refused with a reason), sees him join in the member list
    and removes him (as the owner). Invitations to her, there before the page opened
    or arriving live, are listed, declined or accepted."""
    with (
        TCPClient.connect(server.tcp_port) as alice,
        TCPClient.connect(server.tcp_port) as bob,
        TCPClient.connect(server.tcp_port) as carol,
    ):
        me, bobs, carols = (
            registered(alice, "alice"),
            registered(bob, "bob"),
            registered(carol, "carol"),
        )
        carol_name = carols["user"]["username"]
        early = carol.ok("create_room", name=unique("early"), settings={"public": False})["room"]
        carol.ok("invite_to_room", room_id=early["id"], user_id=me["user"]["id"])
        signed_in(server, driver, me["token"])
        wait_for(
            driver,
            lambda d: (
                text_of(d, "invitation-list") == f"{early['name']} from {carol_name}AcceptDecline"
            ),
        )

        # A private room of her own, and its members.
        secret = unique("secret")
        type_into(driver, "new-room-name", secret)
        driver.find_element(By.ID, "new-room-private").click()
        driver.find_element(By.CSS_SELECTOR, "#create-room-form button").click()
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {secret}")
        room_id = bob.ok("list_rooms", filter={"search": secret})  # private: not listed
        assert room_id["rooms"] == []
        driver.find_element(By.ID, "show-members").click()
        wait_for(driver, lambda d: listed(d, "member-list") == [me["user"]["username"]])

        # Invitations by name: bob's (any case), then refusals with their reasons.
        type_into(driver, "invite-name", bobs["user"]["username"].upper())
        driver.find_element(By.CSS_SELECTOR, "#invite-form button").click()
        invited = bob.wait_for(lambda m: m["type"] == "invitation_received")["invitation"]
        assert invited["room_name"] == secret
        wait_for(
            driver, lambda d: text_of(d, "notice-text") == f"{bobs['user']['username']} is invited."
        )
        type_into(driver, "invite-name", bobs["user"]["username"])
        driver.find_element(By.CSS_SELECTOR, "#invite-form button").click()
        wait_for(driver, lambda d: text_of(d, "alert-text") == "Invitation already sent")
        type_into(driver, "invite-name", "nobody_by_that_name")
        driver.find_element(By.CSS_SELECTOR, "#invite-form button").click()
        wait_for(
            driver, lambda d: text_of(d, "alert-text") == "No user named “nobody_by_that_name”."
        )

        # Bob accepts: the list shows him; the owner removes him.
        bob.ok("accept_invitation", invitation_id=invited["id"])
        both = sorted([me["user"]["username"], bobs["user"]["username"]])
        wait_for(driver, lambda d: sorted(listed(d, "member-list")) == both)
        bob_item = f'#member-list li[data-key="member:{bobs["user"]["id"]}"]'
        assert (
            driver.find_elements(
                By.CSS_SELECTOR, f'#member-list li[data-key="member:{me["user"]["id"]}"] .kick'
            )
            == []
        )
        click(driver, By.CSS_SELECTOR, f"{bob_item} .kick")
        confirm(driver)
        left = bob.wait_for(lambda m: m["type"] == "user_left_room")
        assert left["room_id"] == invited["room_id"] and left["reason"] == "kicked"
        wait_for(driver, lambda d: listed(d, "member-list") == [me["user"]["username"]])

        # Invitations to her: the early one declined, a live one accepted.
        click(driver, By.CSS_SELECTOR, "#invitation-list .decline")
        wait_for(driver, lambda d: not shown(d, "invitation-list"))
        assert not shown(driver, "invitations-heading")
        assert rest(server, "GET", "/invitations", token=me["token"])["invitations"] == []
        late = carol.ok("create_room", name=unique("late"), settings={"public": False})["room"]
        carol.ok("invite_to_room", room_id=late["id"], user_id=me["user"]["id"])
        wait_for(
            driver,
            lambda d: (
                text_of(d, "invitation-list") == f"{late['name']} from {carol_name}AcceptDecline"
            ),
        )
        click(driver, By.CSS_SELECTOR, "#invitation-list .accept")
        wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room {late['name']}")
        assert late["name"] in text_of(driver, "room-list")
        assert not shown(driver, "invitation-list")
        assert errors_logged(driver) == []


def count(chrome: webdriver.Chrome, list_id: str) -> int:
    """How many names a list shows (its placeholder for "none" aside)."""
    return chrome.execute_script(
        "return document.querySelectorAll(`#${arguments[0]} li:not(.empty)`).length", list_id
    )


def test_lists_longer_than_a_page(server: ServerProcess, driver: webdriver.Chrome):
    """130 public rooms and 130 people: the first 100 of each, *More* for the rest, and
    a search that finds any of them on the server; 60 rooms joined are all listed (the
    protocol's `joined_only` listing stops at 50)."""
    many, tag = 130, uuid.uuid4().hex[:6]
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me, _ = registered(alice, "alice"), registered(bob, "bob")
        rooms = created_rooms(bob, [f"room{tag}_{n:03}" for n in range(many)])
        joined(alice, rooms[:60])
    registered_over_rest(server, [f"p{tag}_{n:03}" for n in range(many)])
    signed_in(server, driver, me["token"])

    # Rooms: the 60 joined; of the public ones the first page (less those joined), then all.
    wait_for(driver, lambda d: count(d, "room-list") == 60)
    wait_for(driver, lambda d: count(d, "public-list") == 40 and shown(d, "public-more"))
    driver.find_element(By.ID, "public-more").click()
    wait_for(driver, lambda d: count(d, "public-list") == many - 60)
    assert not shown(driver, "public-more")
    # The button went with the focus: the focus is in the list, not nowhere.
    assert driver.execute_script("return document.activeElement.closest('#public-list') !== null")
    assert f"room{tag}_129" in listed(driver, "public-list")

    # People: 100 a page (alice and bob among the first), then the rest.
    wait_for(driver, lambda d: count(d, "user-list") == 99 and shown(d, "people-more"))
    assert f"p{tag}_129" not in listed(driver, "user-list")
    driver.find_element(By.ID, "people-more").click()
    wait_for(driver, lambda d: count(d, "user-list") == many + 1)
    assert not shown(driver, "people-more")
    assert driver.execute_script("return document.activeElement.closest('#user-list') !== null")

    # Searches, answered by the server: a room beyond the first page, and a person.
    driver.execute_script("location.reload()")
    wait_for(driver, connected)
    wait_for(driver, lambda d: count(d, "public-list") == 40)
    type_into(driver, "public-search", f"{tag}_12")
    wait_for(
        driver, lambda d: listed(d, "public-list") == [f"room{tag}_{n}" for n in range(120, 130)]
    )
    click(driver, By.XPATH, f'//ul[@id="public-list"]//button[.="room{tag}_125"]')
    wait_for(driver, lambda d: text_of(d, "conversation-title") == f"Room room{tag}_125")
    type_into(driver, "people-search", f"P{tag}_127")
    wait_for(driver, lambda d: listed(d, "user-list") == [f"p{tag}_127"])
    click(driver, By.CSS_SELECTOR, "#user-list button")
    wait_for(
        driver, lambda d: text_of(d, "conversation-title") == f"Direct messages with p{tag}_127"
    )
    type_into(driver, "people-search", "no such person")
    wait_for(driver, lambda d: text_of(d, "user-list") == "Nobody found.")
    assert errors_logged(driver) == []


def lines(chrome: webdriver.Chrome) -> list[str]:
    """Each line of the open conversation: a message's content, or ``---`` for the
    "New messages" line."""
    return chrome.execute_script(
        """return [...document.querySelectorAll('#messages li')].map((li) =>
             li.classList.contains('new-marker') ? '---'
               : li.querySelector('.content')?.textContent ?? li.textContent)"""
    )


#: The page believes it is in a background tab while ``window.hiddenTab`` is true.
HIDDEN_TAB = """
Object.defineProperty(document, "hidden", {configurable: true, get: () => !!window.hiddenTab});
window.setHidden = (hidden) => {
  window.hiddenTab = hidden;
  document.dispatchEvent(new Event("visibilitychange"));
};
"""


def test_the_new_messages_line_stays_over_a_reconnect(tmp_path: Path) -> None:
    """The line was worked out again from the server's unread count on reconnect:
    nothing is unread by then (what was shown was marked read), so it vanished."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_IDLE_TIMEOUT="2")
    try:
        with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
            accounts, (first, _) = two_users_in_two_rooms(alice, bob)
            target = {"type": "room", "room_id": first["id"]}
            bob.ok("send_message", target=target, content="seen")
            me = accounts[0]["token"]
            first_key = f"room:{first['id']}"
            rest(server, "POST", "/messages/read", token=me, body={"target": target})
            for n in (1, 2):
                bob.ok("send_message", target=target, content=f"new {n}")
        with chromium() as driver:
            signed_in(server, driver, me)
            open_room(driver, first["name"])
            wait_for(driver, lambda d: lines(d) == ["seen", "---", "new 1", "new 2"])
            wait_for(driver, lambda d: text_of(d, "connection").startswith("Disconnected"))
            wait_for(driver, connected)
            wait_for(
                driver,
                lambda d: (
                    d.execute_script("return sessionStorage.getItem(arguments[0])", "lairchat.open")
                    == first_key
                ),
            )
            assert lines(driver) == ["seen", "---", "new 1", "new 2"]
    finally:
        server.stop()


def test_new_messages_line_and_unread_count_in_the_title(
    server: ServerProcess, driver: webdriver.Chrome
):
    """The tab's title counts every unread message, live; a conversation opens with a
    "New messages" line where its unread ones start; messages arriving while the tab is
    in the background are counted and marked the same way."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (first, second) = two_users_in_two_rooms(alice, bob)
        target = {"type": "room", "room_id": first["id"]}
        bob.ok("send_message", target=target, content="seen")
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HIDDEN_TAB})
        signed_in(server, driver, accounts[0]["token"])
        wait_for(driver, lambda d: d.title == "(1) lairchat")
        open_room(driver, first["name"])
        wait_for(driver, lambda d: lines(d) == ["---", "seen"])
        wait_for(driver, lambda d: d.title == "lairchat")
        open_room(driver, second["name"])

        for n in (1, 2, 3):
            bob.ok("send_message", target=target, content=f"new {n}")
        wait_for(driver, lambda d: d.title == "(3) lairchat")
        dm = {"type": "dm", "recipient": accounts[0]["user"]["id"]}
        bob.ok("send_message", target=dm, content="psst")
        wait_for(driver, lambda d: d.title == "(4) lairchat")
        open_room(driver, first["name"])
        wait_for(driver, lambda d: lines(d) == ["seen", "---", "new 1", "new 2", "new 3"])
        wait_for(driver, lambda d: d.title == "(1) lairchat")
        click(driver, By.CSS_SELECTOR, f'li[data-key="dm:{accounts[1]["user"]["id"]}"] button')
        wait_for(driver, lambda d: d.title == "lairchat")

        # In the background: counted and marked; seen (and marked read) on coming back.
        open_room(driver, first["name"])
        assert lines(driver) == ["seen", "new 1", "new 2", "new 3"]
        driver.execute_script("setHidden(true)")
        bob.ok("send_message", target=target, content="while away")
        bob.ok("send_message", target=target, content="still away")
        wait_for(driver, lambda d: d.title == "(2) lairchat")
        assert lines(driver)[-3:] == ["---", "while away", "still away"]
        driver.execute_script("setHidden(false)")
        wait_for(driver, lambda d: d.title == "lairchat")
        me = accounts[0]["token"]
        wait_for(
            driver,
            lambda _: rest(server, "GET", "/users/me", token=me)["unread_counts"]["total"] == 0,
        )
        assert errors_logged(driver) == []


#: Run before the page's own script (a DevTools injection, outside the page's policy):
#: every message the page's WebSocket receives goes through ``incoming(message, event,
#: handler)``, which the test defines first.
INCOMING = """
const Real = WebSocket;
window.WebSocket = class extends Real {
  set onmessage(handler) {
    super.onmessage = (event) => incoming(JSON.parse(event.data), event, handler);
  }
};
"""
#: The first ``authenticate_response`` the page sees is the server's `internal_error`.
FAIL_FIRST_AUTHENTICATE = (
    """
let fail = 1;
function incoming(message, event, handler) {
  if (message.type !== "authenticate_response" || fail === 0) return handler(event);
  fail -= 1;
  const error = {code: "internal_error", message: "Internal error"};
  handler({data: JSON.stringify({type: message.type, request_id: null, success: false, error})});
}
"""
    + INCOMING
)
#: Every ``send_message_response`` reaches the page 500 ms late (``window.delivered``
#: counts them).
SLOW_SEND_RESPONSES = (
    """
window.delivered = 0;
function incoming(message, event, handler) {
  if (message.type !== "send_message_response") return handler(event);
  setTimeout(() => { handler(event); window.delivered += 1; }, 500);
}
"""
    + INCOMING
)


#: Every WebSocket the page opens, and the frames it sends on each: ``window.sockets``.
RECORD_SOCKETS = """
window.sockets = [];
const Recorded = WebSocket;
window.WebSocket = class extends Recorded {
  constructor(url, ...rest) {
    super(url, ...rest);
    this.record = { url: String(url), sent: [] };
    sockets.push(this.record);
  }
  send(data) {
    this.record.sent.push(JSON.parse(data));
    return super.send(data);
  }
};
"""


def test_the_token_never_goes_in_a_url(tmp_path: Path, driver: webdriver.Chrome):
    """The page opens `/ws` with no query (proxies log URLs) and authenticates with its
    first frames, `client_hello` then `authenticate`; again after the connection drops."""
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_IDLE_TIMEOUT="2")
    try:
        with TCPClient.connect(server.tcp_port) as alice:
            alice.hello()
            name = unique("nourl")
            account = alice.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORD_SOCKETS})
        signed_in(server, driver, account["token"])
        # The idle timeout closes it; the page connects and signs in again the same way.
        wait_for(driver, lambda d: d.execute_script("return sockets.length") >= 2)
        wait_for(driver, connected)
        sockets = driver.execute_script("return sockets")
        for socket in sockets:
            assert socket["url"] == f"ws://127.0.0.1:{server.http_port}/ws"
        for socket in sockets:
            hello, authenticate = socket["sent"][:2]
            assert hello["type"] == "client_hello" and hello["version"] == "1.0"
            assert authenticate["type"] == "authenticate"
            assert authenticate["token"] == account["token"]
        assert text_of(driver, "me") == name
        assert errors_logged(driver, network=False) == []
    finally:
        server.stop()


def test_a_failing_server_does_not_sign_the_page_out(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Only a verdict on the token (invalid, expired, logged out, banned) signs the page
    out; `internal_error` is shown, the token kept, and the page connects again."""
    with TCPClient.connect(server.tcp_port) as alice:
        alice.hello()
        name = unique("flaky")
        account = alice.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
    driver.execute_cdp_cmd(
        "Page.addScriptToEvaluateOnNewDocument", {"source": FAIL_FIRST_AUTHENTICATE}
    )
    driver.get(server.url + "/")
    driver.execute_script(
        "sessionStorage.setItem('lairchat.token', arguments[0])", account["token"]
    )
    driver.refresh()
    wait_for(driver, lambda d: text_of(d, "alert-text") == "Could not sign in: Internal error")
    wait_for(driver, connected)
    assert text_of(driver, "me") == name and not shown(driver, "alert")
    assert driver.execute_script("return sessionStorage.getItem('lairchat.token')")


def test_nothing_too_large_is_sent(server: ServerProcess, driver: webdriver.Chrome):
    """A message over 4096 bytes is refused in the page, with the server's words; a
    pasted description over the server's 1 MiB frame is refused too, instead of being
    sent and getting the connection closed."""
    with TCPClient.connect(server.tcp_port) as alice:
        alice.hello()
        name = unique("big")
        account = alice.ok("register", username=name, email=f"{name}@e.com", password=PASSWORD)
        room = alice.ok("create_room", name=unique("big"))["room"]
    signed_in(server, driver, account["token"])
    open_room(driver, room["name"])
    box = driver.find_element(By.ID, "message-input")
    driver.execute_script("arguments[0].value = 'é'.repeat(2049)", box)  # 4098 bytes
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: shown(d, "alert"))
    assert text_of(driver, "alert-text") == (
        "Content invalid: value too long: maximum 4096, got 4098"
    )
    driver.execute_script("arguments[0].value = 'x'.repeat(1_100_000)", box)
    box.send_keys(Keys.ENTER)
    wait_for(driver, lambda d: text_of(d, "alert-text").endswith("got 1100000"))
    description = driver.find_element(By.ID, "new-room-description")
    driver.execute_script("arguments[0].value = 'd'.repeat(1_100_000)", description)
    type_into(driver, "new-room-name", unique("huge"))
    driver.find_element(By.CSS_SELECTOR, "#create-room-form button").click()
    wait_for(driver, lambda d: text_of(d, "alert-text") == "Too large to send (1 MiB at most).")
    assert text_of(driver, "connection") == "Connected"
    assert len(box.get_attribute("value")) == 1_100_000  # the draft is kept


#: The next ``send_message`` after ``window.unconfirm`` is set meets a server that
#: cannot tell whether it stored it (TCP.md, "Storage faults"): with ``"stored"`` it is
#: sent and stored, but answered ``stored: "unknown"`` and its echo never comes; with
#: ``"lost"`` it is never sent, and answered so with a fresh id.
UNCONFIRMED_SENDS = """
window.unconfirm = null;
function unknown(requestId, id) {
  const details = {stored: "unknown", message_id: id};
  const error = {code: "internal_error", message: "Internal error", details};
  const answer = {type: "send_message_response", request_id: requestId, success: false, error};
  return {data: JSON.stringify(answer)};
}
const Real = WebSocket;
window.WebSocket = class extends Real {
  set onmessage(handler) {
    this.handler = handler;
    super.onmessage = (event) => {
      const message = JSON.parse(event.data);
      if (message.type === "message_received" && message.message.content === this.hiding) return;
      if (message.type !== "send_message_response" || message.request_id !== this.rewrite) {
        return handler(event);
      }
      this.rewrite = null;
      handler(unknown(message.request_id, message.message.id));
    };
  }
  send(data) {
    const frame = JSON.parse(data);
    const mode = frame.type === "send_message" ? window.unconfirm : null;
    window.unconfirm = mode ? null : window.unconfirm;
    if (mode === "lost") {
      const hex = Date.now().toString(16).padStart(12, "0");
      const id = `${hex.slice(0, 8)}-${hex.slice(8)}-7000-8000-000000000001`;
      setTimeout(() => this.handler(unknown(frame.request_id, id)), 0);
      return;
    }
    if (mode === "stored") [this.rewrite, this.hiding] = [frame.request_id, frame.content];
    return super.send(data);
  }
};
"""


def test_a_send_the_server_could_not_confirm_is_settled_from_history(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Answered `internal_error` with `stored: "unknown"`, the page showed "Internal
    error" and kept the draft: sent again, a stored message showed twice. It now looks
    in the newest page of history: there, it is shown as sent; not there, the draft is
    kept and the alert says to send it again."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (room, _) = two_users_in_two_rooms(alice, bob)
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": UNCONFIRMED_SENDS}
        )
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, room["name"])
        box = driver.find_element(By.ID, "message-input")
        driver.execute_script("window.unconfirm = 'stored'")
        box.send_keys("stored after all", Keys.ENTER)
        wait_for(driver, showing("stored after all"))
        assert box.get_attribute("value") == ""
        assert not shown(driver, "alert")
        driver.execute_script("window.unconfirm = 'lost'")
        box.send_keys("never stored", Keys.ENTER)
        wait_for(driver, lambda d: shown(d, "alert"))
        assert text_of(driver, "alert-text") == (
            "The server lost that message: it was not sent. Send it again."
        )
        assert box.get_attribute("value") == "never stored"
        assert not showing("never stored")(driver)
        assert errors_logged(driver) == []


def test_a_message_sent_is_no_draft(server: ServerProcess, driver: webdriver.Chrome):
    """Switching conversations while a message is on its way: it does not come back
    as the draft of the conversation it was sent to."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (first, second) = two_users_in_two_rooms(alice, bob)
        driver.execute_cdp_cmd(
            "Page.addScriptToEvaluateOnNewDocument", {"source": SLOW_SEND_RESPONSES}
        )
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, first["name"])
        driver.find_element(By.ID, "message-input").send_keys("once", Keys.ENTER)
        open_room(driver, second["name"])
        assert driver.execute_script("return window.delivered") == 0
        bob.wait_for(from_browser("once"))
        wait_for(driver, lambda d: d.execute_script("return window.delivered") == 1)
        open_room(driver, first["name"])
        assert driver.find_element(By.ID, "message-input").get_attribute("value") == ""
        wait_for(driver, showing("once"))
