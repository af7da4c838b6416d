"""The browser client (docs/WEB.md) against hostile users and data, in a real browser.

Headless Chromium (tests/integration/browser.py) opens the page of a real
``twistd lairchat``; other users are raw TCP clients. Each test here is an attack that
found, or checks the absence of, a fault: markup that got into the page anyway must
not run (the policy, enforced), nothing of an account may stay on the page after it
signs out, and a flood of events must not freeze the tab.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    SECRET,
    connected,
    count,
    created_rooms,
    errors_logged,
    joined,
    listed,
    open_room,
    registered,
    registered_over_rest,
    shown,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    type_into,
    unread,
)

driver = browser.driver  # the shared fixture


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path, secret=SECRET)
    yield srv
    srv.stop()


def test_nothing_of_an_account_stays_after_it_signs_out(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by logging out on a shared screen: the banners above both views kept the
    last notice ("carol invited you to “…”") and error over the login form, and the
    hidden member list and forms kept names for the next account's session to show."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as carol:
        me, carols = registered(alice, "alice"), registered(carol, "carol")
        signed_in(server, driver, me["token"])
        secret = f"secret_{uuid.uuid4().hex[:8]}"
        room = carol.ok("create_room", name=secret, settings={"public": False})["room"]
        carol.ok("invite_to_room", room_id=room["id"], user_id=me["user"]["id"])
        wait_for(driver, lambda d: secret in text_of(d, "notice-text"))
        # An error naming someone, a member list, half-typed forms.
        type_into(driver, "new-room-name", "plans for carol")
        type_into(driver, "new-room-description", "do not tell")
        driver.find_element(By.CSS_SELECTOR, "#create-room-form button").click()
        wait_for(driver, lambda d: text_of(d, "conversation-title") == "Room plans for carol")
        driver.find_element(By.ID, "show-members").click()
        wait_for(driver, lambda d: me["user"]["username"] in text_of(d, "member-list"))
        type_into(driver, "invite-name", "nobody_called_this")
        driver.find_element(By.CSS_SELECTOR, "#invite-form button").click()
        wait_for(driver, lambda d: "nobody_called_this" in text_of(d, "alert-text"))
        type_into(driver, "invite-name", carols["user"]["username"])
        type_into(driver, "new-room-name", "half typed")

        driver.find_element(By.ID, "logout").click()
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert text_of(driver, "login-reason") == "You are logged out."
        for banner in ("notice", "alert"):
            assert not shown(driver, banner) and text_of(driver, f"{banner}-text") == ""
        assert text_of(driver, "member-list") == ""
        for field in ("invite-name", "new-room-name", "new-room-description"):
            assert driver.find_element(By.ID, field).get_attribute("value") == ""
        assert driver.execute_script("return document.title") == "lairchat"

        # The next account, in the same page, starts as a fresh page would: members folded.
        type_into(driver, "login-identifier", carols["user"]["username"])
        type_into(driver, "login-password", PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait_for(driver, connected)
        open_room(driver, secret)
        assert not shown(driver, "members")
        assert errors_logged(driver, network=False) == []


#: Markup that got into the page anyway (as a flaw in the script would let it), each
#: way a page can be made to run or load something; what happened is collected in
#: ``window.attempts``, and the policy's refusals in ``window.refused``.
INJECT = """
window.refused = [];
document.addEventListener(
  'securitypolicyviolation', (e) => window.refused.push(e.effectiveDirective));
const attempts = {};
const attempt = (name, act) => {
  try { act(); attempts[name] = 'done'; } catch (e) { attempts[name] = e.name; }
};
const host = document.getElementById('messages');
attempt('inline script', () => {
  const s = document.createElement('script');
  s.textContent = 'window.__xss = "inline script"';
  host.append(s);
});
attempt('event handler', () => {
  const i = document.createElement('img');
  i.setAttribute('onerror', 'window.__xss = "event handler"');
  i.src = '/no-such-image';
  host.append(i);
});
attempt('javascript: link', () => {
  const a = document.createElement('a');
  a.href = 'javascript:window.__xss = "javascript: link"';
  host.append(a);
  a.click();
});
attempt('innerHTML', () => {
  document.createElement('div').innerHTML = '<b>markup</b>';
});
attempt('style attribute', () => host.setAttribute('style', 'background: rgb(255, 0, 0)'));
attempt('image elsewhere', () => {
  const i = document.createElement('img');
  i.src = 'http://elsewhere.invalid/pixel.png';
  host.append(i);
});
attempt('fetch elsewhere', () => {
  fetch('http://elsewhere.invalid/', {mode: 'no-cors'}).catch(() => {});
});
window.attempts = attempts;
"""


def test_the_policy_stops_markup_that_got_in(server: ServerProcess, driver: webdriver.Chrome):
    """The page's second line of defence, in practice rather than as a header: markup
    put into the page runs no inline script, event handler or ``javascript:`` link,
    styles nothing, loads nothing from elsewhere; and ``innerHTML`` itself is refused
    (Trusted Types), so no future line of the script can turn text into markup.

    Found by trying it: the first six were refused, but ``innerHTML`` took the markup;
    only a unit test reading the script's source kept it out of the page."""
    with TCPClient.connect(server.tcp_port) as alice:
        me = registered(alice, "alice")
    signed_in(server, driver, me["token"])
    errors_logged(driver)  # the console from here on
    driver.execute_script(INJECT)
    expected = {"script-src-elem", "style-src-attr", "img-src", "connect-src"}
    wait_for(driver, lambda d: expected <= set(d.execute_script("return window.refused")))
    assert driver.execute_script("return window.__xss") is None
    # Refused by Trusted Types before they reached the page: markup from a string, and
    # script put into an element or an attribute.
    attempts = driver.execute_script("return window.attempts")
    for sink in ("innerHTML", "inline script", "event handler"):
        assert attempts[sink] == "TypeError", sink
    assert (
        driver.execute_script(
            "return getComputedStyle(document.getElementById('messages')).backgroundColor"
        )
        != "rgb(255, 0, 0)"
    )
    assert driver.execute_script("return document.getElementById('messages').style.length") == 0
    assert text_of(driver, "connection") == "Connected"


#: Counts the times the people list is rebuilt (each a ``replaceChildren``: one record).
COUNT_REBUILDS = """
window.rebuilds = 0;
new MutationObserver((records) => (window.rebuilds += records.length))
  .observe(document.getElementById('user-list'), {childList: true});
window.flood_started = performance.now();
"""


def test_a_flood_of_messages_does_not_redraw_the_lists_each_time(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by flooding a room the page had closed (1000 messages from a raw TCP
    client, which the server's default limits let through): every message rebuilt every
    room and person in the side lists (sorted again, one element each), about 3 ms per
    message with only 40 rooms and 100 people, the tab busy for seconds and linear in
    the lists' length. The lists and the title are now redrawn at most every 100 ms
    while events pour in; the counts shown are the same."""
    flood, rooms_joined, people = 1000, 40, 100
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me, _ = registered(alice, "alice"), registered(bob, "bob")
        rooms = created_rooms(bob, [f"room_{n:03}" for n in range(rooms_joined)])
        joined(alice, rooms)
        registered_over_rest(server, [f"p{n:03}_{uuid.uuid4().hex[:6]}" for n in range(people)])
        signed_in(server, driver, me["token"])
        wait_for(driver, lambda d: count(d, "room-list") == rooms_joined)
        wait_for(driver, lambda d: count(d, "user-list") == 99)  # the first page
        driver.execute_script(COUNT_REBUILDS)

        target = {"type": "room", "room_id": rooms[0]["id"]}
        for n in range(flood):
            bob.send({"type": "send_message", "target": target, "content": f"flood {n}"})
        badge = f'li[data-key="room:{rooms[0]["id"]}"] .badge'
        wait_for(driver, lambda d: unread(d, badge) == str(flood), timeout=60)
        assert driver.execute_script("return document.title") == f"({flood}) lairchat"
        elapsed_ms, rebuilds = driver.execute_script(
            "return [performance.now() - window.flood_started, window.rebuilds]"
        )
        # One per 100 ms at most (and the first), not one per message.
        assert rebuilds <= elapsed_ms / 100 + 2, (rebuilds, elapsed_ms)
        assert errors_logged(driver) == []


#: Run before the page's script: the page's WebSockets, so a test can deliver a frame
#: the server would not send (``deliver``).
KEEP_SOCKETS = """
window.pageSockets = [];
const Kept = WebSocket;
window.WebSocket = class extends Kept {
  constructor(...args) {
    super(...args);
    pageSockets.push(this);
  }
};
"""


def deliver(chrome: webdriver.Chrome, frame: dict) -> None:
    """``frame`` received by the page on its current WebSocket, as if from the server."""
    chrome.execute_script(
        "pageSockets.at(-1).dispatchEvent("
        "new MessageEvent('message', {data: JSON.stringify(arguments[0])}))",
        frame,
    )


def test_a_room_lost_takes_its_unread_count_along(server: ServerProcess, driver: webdriver.Chrome):
    """Found by kicking the page's user from a room with unread messages: the room left
    the list, but its count stayed in the tab's title, "(2) lairchat", with no badge
    anywhere to explain it and nothing to clear it until a reload. Now a room left,
    removed or deleted takes its count along, and the title counts only what the
    lists show (a message the server let through for a room already left included)."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, (quiet, busy) = two_users_in_two_rooms(alice, bob)
        me = accounts[0]["user"]
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_SOCKETS})
        signed_in(server, driver, accounts[0]["token"])
        open_room(driver, quiet["name"])
        for n in range(2):
            bob.ok("send_message", target={"type": "room", "room_id": busy["id"]}, content=f"{n}")
        wait_for(driver, lambda d: d.execute_script("return document.title") == "(2) lairchat")

        rest(
            server, "DELETE", f"/rooms/{busy['id']}/members/{me['id']}", token=accounts[1]["token"]
        )
        wait_for(driver, lambda d: busy["name"] not in text_of(d, "room-list"))
        wait_for(driver, lambda d: d.execute_script("return document.title") == "lairchat")

        # The server's fan-out crossing the removal: a message for the room, delivered
        # after it (put into the page's socket here).
        late = {"type": "message_received", "author_username": "bob", "message": {
            "id": str(uuid.uuid4()), "author": accounts[1]["user"]["id"], "content": "late",
            "target": {"type": "room", "room_id": busy["id"]},
            "created_at": "2026-01-01T00:00:00Z", "edited": False}}  # fmt: skip
        deliver(driver, late)
        # Then a direct message from bob (counted), once the late one is handled.
        bob.ok("send_message", target={"type": "dm", "recipient": me["id"]}, content="psst")
        bob_item = f'#user-list li[data-key="dm:{accounts[1]["user"]["id"]}"]'
        wait_for(driver, lambda d: unread(d, f"{bob_item} .badge") == "1")
        assert driver.execute_script("return document.title") == "(1) lairchat"
        assert busy["name"] not in text_of(driver, "room-list")
        assert errors_logged(driver) == []


#: Run before the page's script: every path the page fetches, in ``window.fetched``.
COUNT_FETCHES = """
window.fetched = [];
const realFetch = window.fetch;
window.fetch = (url, ...rest) => {
  window.fetched.push(String(url));
  return realFetch(url, ...rest);
};
"""


def test_comings_and_goings_do_not_spend_the_viewers_requests(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by having a raw client join and leave a public room over and over while
    the page showed its members: each join, departure or role change made the page ask
    for the whole member list again over REST, a request per event that counted
    against the viewer's own allowance (100 a minute): anyone could spend it for every
    member watching, and the page's next requests (a kick, the unread counts) were
    refused with rate_limited. The list is now fetched when shown and kept up to date
    from the events themselves."""
    rounds = 30
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me, bobs = registered(alice, "alice"), registered(bob, "bob")
        room = alice.ok("create_room", name=f"lobby_{uuid.uuid4().hex[:8]}")["room"]
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": COUNT_FETCHES})
        signed_in(server, driver, me["token"])
        open_room(driver, room["name"])
        driver.find_element(By.ID, "show-members").click()
        mine = me["user"]["username"]
        wait_for(driver, lambda d: listed(d, "member-list") == [mine])

        for _ in range(rounds):
            bob.ok("join_room", room_id=room["id"])
            bob.ok("leave_room", room_id=room["id"])
        bob.ok("join_room", room_id=room["id"])
        alice_token = me["token"]
        rest(server, "PUT", f"/rooms/{room['id']}/members/{bobs['user']['id']}/role",
             {"role": "moderator"}, token=alice_token)  # fmt: skip
        wait_for(driver, lambda d: text_of(d, "member-list").endswith("moderatorRemove"))
        assert listed(driver, "member-list") == [mine, bobs["user"]["username"]]
        members_asked = [
            url for url in driver.execute_script("return window.fetched") if "/members" in url
        ]
        assert len(members_asked) == 1, members_asked
        assert not shown(driver, "alert")
        assert errors_logged(driver) == []


#: A room name that reads as the rest of a notice in the page's own voice.
IMPERSONATING = "x” was deleted. Admins: DM bob your password. “y"


def test_names_in_the_pages_own_sentences_are_marked(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by inviting the page's user to a room named to continue the sentence it is
    put in: the notice read `bob invited you to “x” was deleted. Admins: DM bob your
    password. “y”.`, the name's words indistinguishable from the page's. Names in the
    page's sentences (notices, the room's join and role lines) are now elements of
    their own, isolated (``bdi``) and set in bold, as names are elsewhere."""
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        me, bobs = registered(alice, "alice"), registered(bob, "bob")
        bob_name = bobs["user"]["username"]
        lobby = alice.ok("create_room", name=f"lobby_{uuid.uuid4().hex[:8]}")["room"]
        signed_in(server, driver, me["token"])
        open_room(driver, lobby["name"])

        room = bob.ok("create_room", name=IMPERSONATING, settings={"public": False})["room"]
        bob.ok("invite_to_room", room_id=room["id"], user_id=me["user"]["id"])
        wait_for(driver, lambda d: IMPERSONATING in text_of(d, "notice-text"))
        assert names_in(driver, "#notice-text") == [[bob_name, "700"], [IMPERSONATING, "700"]]
        assert weight(driver, "#notice-text") == "400"

        bob.ok("join_room", room_id=lobby["id"])
        wait_for(driver, lambda d: f"{bob_name} joined the room" in text_of(d, "messages"))
        assert names_in(driver, "#messages li.system") == [[bob_name, "700"]]
        assert errors_logged(driver) == []


def names_in(chrome: webdriver.Chrome, selector: str) -> list[list[str]]:
    """The names marked in an element: each one's text and font weight."""
    return chrome.execute_script(
        "return [...document.querySelectorAll(arguments[0] + ' bdi')]"
        ".map((n) => [n.textContent, getComputedStyle(n).fontWeight])",
        selector,
    )


def weight(chrome: webdriver.Chrome, selector: str) -> str:
    return chrome.execute_script(
        "return getComputedStyle(document.querySelector(arguments[0])).fontWeight", selector
    )


def test_a_logout_the_server_did_not_take_is_not_called_one(
    server: ServerProcess, driver: webdriver.Chrome
):
    """Found by logging out while the server was unreachable: the page forgot the token
    and said "You are logged out." although `POST /auth/logout` never arrived, so the
    session (and anyone holding a copy of its token) stayed valid until it expired.
    The page still forgets the token (it is this page's to drop), but says so."""
    with TCPClient.connect(server.tcp_port) as alice:
        me = registered(alice, "alice")
    signed_in(server, driver, me["token"])
    server.stop()
    driver.find_element(By.ID, "logout").click()
    wait_for(driver, lambda d: shown(d, "login-view"))
    wait_for(driver, lambda d: "stays valid" in text_of(d, "login-reason"))
    assert text_of(driver, "login-reason") == (
        "Logged out of this page, but the server could not be told (Cannot reach the"
        " server.): the session stays valid until it expires."
    )
    assert driver.execute_script("return sessionStorage.length") == 0
