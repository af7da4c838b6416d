"""Room invite codes in the browser client (docs/WEB.md, "Invite codes"), in headless
Chromium against ``twistd lairchat``: a moderator's *Invite codes* in *Room settings*
(a plain member offered none; a bound refused in the server's words; a one-use code
made, shown once with *Copy* and its link; the room's live codes listed; *Revoke*
after a question; the section gone when the moderator is demoted), another user
joining the private room with it in their own browser from its link (offered, never
joined before *Join*, the fragment taken out of the address), the code then used up;
a bad code's one 404 said plainly; the rate limit's 429 with its wait; a server
without the routes (the original's bare 404) saying so; and at 360 px both dialogs
within the screen, their targets at least 24 px."""

from __future__ import annotations

import re
import urllib.error
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    SECRET,
    errors_logged,
    open_room,
    registered,
    shown,
    signed_in,
    text_of,
    type_into,
    unique,
)
from tests.integration.test_web_client_keyboard import focus, focus_on, keys
from tests.integration.test_web_client_rooms_admin import is_open, set_role, value
from tests.integration.test_web_client_two_factor import OUTSIDE

driver = browser.driver  # the shared fixture
NO_CODES = "This server does not offer invite codes."
NOT_FOUND = (
    "Not joined: Invite code not found. A code mistyped, expired, used up, revoked or of a"
    " deleted room is refused the same way."
)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path, secret=SECRET)
    yield srv
    srv.stop()


def private_room(owner: TCPClient, member: TCPClient) -> dict:
    """``owner`` makes a private room; ``member`` joins it (with a code, over TCP)."""
    room = owner.ok("create_room", name=unique("secret"), settings={"public": False})["room"]
    code = owner.ok("create_invite_code", room_id=room["id"], max_uses=1)["invite_code"]
    member.ok("join_by_invite_code", code=code["code"])
    return room


def account(server: ServerProcess, prefix: str) -> dict:
    name = unique(prefix)
    body = {"username": name, "email": f"{name}@e.com", "password": PASSWORD}
    return rest(server, "POST", "/auth/register", body)


def join_status(server: ServerProcess, code: str, token: str) -> int:
    try:
        rest(server, "POST", f"/invite-codes/{code}/join", token=token)
    except urllib.error.HTTPError as refused:
        return refused.code
    return 200


def codes_listed(chrome: webdriver.Chrome) -> list[str]:
    return chrome.execute_script(
        "return [...document.querySelectorAll('#invite-code-list li')].map((li) => li.textContent)"
    )


def open_settings(chrome: webdriver.Chrome) -> None:
    focus_on(chrome, "#room-settings")
    keys(chrome, Keys.ENTER)
    wait_for(chrome, lambda d: is_open(d, "room-dialog"))


def test_a_moderator_makes_a_code_another_user_joins_with_it(
    server: ServerProcess, driver: webdriver.Chrome
):
    with TCPClient.connect(server.tcp_port) as bob, TCPClient.connect(server.tcp_port) as alice:
        owner, me = registered(bob, "owner"), registered(alice, "mod")
        room = private_room(bob, alice)
        signed_in(server, driver, me["token"])
        open_room(driver, room["name"])
        # A plain member: no settings, so no invite codes.
        assert not shown(driver, "room-settings") and not shown(driver, "invite-codes")
        set_role(server, owner["token"], room["id"], me["user"]["id"], "moderator")
        wait_for(driver, lambda d: shown(d, "room-settings"))
        open_settings(driver)
        wait_for(driver, lambda d: codes_listed(d) == ["No live codes."])
        assert shown(driver, "invite-codes") and not shown(driver, "invite-code-made")

        # A bound refused in the server's words; then a one-use code for 2 hours.
        type_into(driver, "invite-code-uses", "0")
        driver.find_element(By.ID, "invite-code-submit").click()
        wait_for(
            driver,
            lambda d: (
                text_of(d, "invite-codes-error")
                == "No code made: Validation failed: max_uses - must be 1 to 1000"
            ),
        )
        type_into(driver, "invite-code-uses", "1")
        type_into(driver, "invite-code-hours", "2")
        driver.find_element(By.ID, "invite-code-submit").click()
        wait_for(driver, lambda d: shown(d, "invite-code-made"))
        assert focus(driver)["id"] == "invite-code-once"
        assert "shown only now" in text_of(driver, "invite-code-once")
        code = value(driver, "invite-code-value")
        assert re.fullmatch(r"[A-Za-z0-9_-]{22}", code)
        assert value(driver, "invite-code-link") == f"{server.url}/#join={code}"
        assert (
            value(driver, "invite-code-uses") == "" and text_of(driver, "invite-codes-error") == ""
        )
        wait_for(driver, lambda d: len(codes_listed(d)) == 1)
        line = codes_listed(driver)[0]
        assert line.startswith(f"{code[:4]}…, 0 of 1 uses, expires ")
        assert line.endswith(f", made by {me['user']['username']} Revoke")
        driver.find_element(By.ID, "invite-code-copy").click()
        wait_for(driver, lambda d: text_of(d, "invite-code-copied").endswith("the code."))
        # Shown once: the dialog closed and opened again has it no more.
        keys(driver, Keys.ESCAPE)
        wait_for(driver, lambda d: not is_open(d, "room-dialog"))
        assert value(driver, "invite-code-value") == ""
        open_settings(driver)
        wait_for(driver, lambda d: len(codes_listed(d)) == 1)
        assert not shown(driver, "invite-code-made")
        keys(driver, Keys.ESCAPE)

        # Another user, in their own browser, opens the link: asked to sign in first,
        # then offered the join, never joined before the click.
        carol = account(server, "carol")
        with browser.chromium() as other:
            other.get(f"{server.url}/#join={code}")
            wait_for(other, lambda d: shown(d, "login-view"))
            assert other.execute_script("return location.hash") == f"#join={code}"
            type_into(other, "login-identifier", carol["user"]["username"])
            type_into(other, "login-password", PASSWORD)
            keys(other, Keys.ENTER)
            wait_for(other, lambda d: is_open(d, "join-code-dialog"))
            assert value(other, "join-code-input") == code
            assert shown(other, "join-code-from-link")
            assert focus(other)["id"] == "join-code-input"
            # Out of the address (and the history entry): not bookmarked nor offered again.
            assert other.execute_script("return location.href") == server.url + "/"
            keys(other, Keys.ESCAPE)
            wait_for(other, lambda d: not is_open(d, "join-code-dialog"))
            assert focus(other)["id"] == "join-code-open"
            members = rest(server, "GET", f"/rooms/{room['id']}/members", token=owner["token"])
            assert len(members["members"]) == 2  # nothing joined without the click

            # A bad code typed: the one 404 for every bad code, said plainly.
            keys(other, Keys.ENTER)
            wait_for(other, lambda d: is_open(d, "join-code-dialog"))
            assert not shown(other, "join-code-from-link")
            keys(other, "NoSuchCode_0123456789ab", Keys.ENTER)
            wait_for(other, lambda d: text_of(d, "join-code-error") == NOT_FOUND)
            assert value(other, "join-code-input") == "NoSuchCode_0123456789ab"  # to correct
            # The link pasted whole: its code is used.
            type_into(other, "join-code-input", f"{server.url}/#join={code}")
            keys(other, Keys.ENTER)
            carol_id = carol["user"]["id"]
            bob.wait_for(lambda m: m["type"] == "user_joined_room" and m["user"]["id"] == carol_id)
            wait_for(other, lambda d: text_of(d, "conversation-title") == f"Room {room['name']}")
            assert not is_open(other, "join-code-dialog")
            assert text_of(other, "notice-text") == (
                f"You joined “{room['name']}” with an invite code."
            )
            assert focus(other)["id"] == "message-input"
            assert errors_logged(other, network=False) == []

        # Used up: no longer listed, and refused to anyone else.
        dave = account(server, "dave")
        assert join_status(server, code, dave["token"]) == 404
        open_settings(driver)
        wait_for(driver, lambda d: codes_listed(d) == ["No live codes."])

        # Another code (no limit), revoked after the question.
        driver.find_element(By.ID, "invite-code-submit").click()
        wait_for(driver, lambda d: shown(d, "invite-code-made"))
        second = value(driver, "invite-code-value")
        wait_for(driver, lambda d: len(codes_listed(d)) == 1)
        assert codes_listed(driver)[0].startswith(f"{second[:4]}…, 0 uses, no limit, expires ")
        focus_on(driver, "#invite-code-list .revoke-code")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: is_open(d, "confirm"))
        assert text_of(driver, "confirm-text") == (
            f"Revoke the code {second[:4]}…? No one can join with it any more."
        )
        focus_on(driver, "#confirm-yes")
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: text_of(d, "invite-codes-status") == (
            f"The code {second[:4]}… is revoked."
        ))  # fmt: skip
        wait_for(driver, lambda d: codes_listed(d) == ["No live codes."])
        assert is_open(driver, "room-dialog")
        assert join_status(server, second, dave["token"]) == 404

        # Demoted while the dialog is open: the section goes.
        set_role(server, owner["token"], room["id"], me["user"]["id"], "member")
        wait_for(driver, lambda d: not shown(d, "invite-codes"))
        keys(driver, Keys.ESCAPE)
        assert errors_logged(driver, network=False) == []


def test_too_many_wrong_codes_are_refused_with_the_wait(tmp_path: Path, driver: webdriver.Chrome):
    server = ServerProcess(tmp_path, secret=SECRET, LAIR_RATE_LIMITS="on")
    try:
        guesser = account(server, "guess")
        signed_in(server, driver, guesser["token"])
        for n in range(10):  # the auth limit: 10 a minute
            assert join_status(server, f"wrong{n:02d}", guesser["token"]) == 404
        # A join link opened in a page already signed in: offered at once.
        driver.execute_script("location.hash = '#join=AnotherWrongCode'")
        wait_for(driver, lambda d: is_open(d, "join-code-dialog"))
        assert shown(driver, "join-code-from-link")
        assert driver.execute_script("return location.hash") == ""
        keys(driver, Keys.ENTER)
        wait_for(driver, lambda d: text_of(d, "join-code-error").startswith("Not joined: Too many"))
        assert re.fullmatch(
            r"Not joined: Too many requests: try again in \d+ s\.",
            text_of(driver, "join-code-error"),
        )
        assert value(driver, "join-code-input") == "AnotherWrongCode"  # kept for later
    finally:
        server.stop()


def test_the_list_follows_the_rooms_other_moderators_live(
    server: ServerProcess, driver: webdriver.Chrome
):
    """*Invite codes* open in a moderator's page: a code the owner makes over TCP is
    listed, a join with it counts, the owner's revocation takes it out, each without
    the page asking (lairchat's own events); the code itself never reaches the page."""
    with TCPClient.connect(server.tcp_port) as bob, TCPClient.connect(server.tcp_port) as alice:
        owner, me = registered(bob, "owner"), registered(alice, "mod")
        room = private_room(bob, alice)
        set_role(server, owner["token"], room["id"], me["user"]["id"], "moderator")
        signed_in(server, driver, me["token"])
        open_room(driver, room["name"])
        wait_for(driver, lambda d: shown(d, "room-settings"))
        open_settings(driver)
        wait_for(driver, lambda d: codes_listed(d) == ["No live codes."])

        made = bob.ok("create_invite_code", room_id=room["id"], max_uses=2)["invite_code"]
        wait_for(driver, lambda d: len(codes_listed(d)) == 1)
        line = codes_listed(driver)[0]
        assert line.startswith(f"{made['prefix']}…, 0 of 2 uses, expires ")
        assert line.endswith(f", made by {owner['user']['username']} Revoke")
        assert made["code"] not in driver.page_source
        assert join_status(server, made["code"], account(server, "carol")["token"]) == 200
        wait_for(driver, lambda d: codes_listed(d)[0].startswith(f"{made['prefix']}…, 1 of 2 "))
        bob.ok("revoke_invite_code", room_id=room["id"], code_id=made["id"])
        wait_for(driver, lambda d: codes_listed(d) == ["No live codes."])
        assert shown(driver, "invite-codes") and is_open(driver, "room-dialog")
        assert errors_logged(driver, network=False) == []


def test_a_server_without_invite_codes_says_so(server: ServerProcess, driver: webdriver.Chrome):
    """The original Lair Chat answers the routes with a bare 404."""
    with TCPClient.connect(server.tcp_port) as alice:
        me = registered(alice, "owner")
        room = alice.ok("create_room", name=unique("room"))["room"]
        signed_in(server, driver, me["token"])
        driver.execute_script(browser.unknown_path(r"/invite-codes"))
        open_room(driver, room["name"])
        open_settings(driver)
        wait_for(driver, lambda d: text_of(d, "invite-codes-status") == NO_CODES)
        assert not shown(driver, "invite-code-form") and codes_listed(driver) == []
        keys(driver, Keys.ESCAPE)
        wait_for(driver, lambda d: not is_open(d, "room-dialog"))
        driver.find_element(By.ID, "join-code-open").click()
        wait_for(driver, lambda d: is_open(d, "join-code-dialog"))
        keys(driver, "Qx3vN0p8l1Zs7d-YwV2a_g", Keys.ENTER)
        wait_for(driver, lambda d: text_of(d, "join-code-error") == f"Not joined: {NO_CODES}")
        assert errors_logged(driver, network=False) == []


def test_a_phone_makes_and_joins_with_codes(server: ServerProcess, driver: webdriver.Chrome):
    """At 360 px wide: *Room settings* with a code made and listed, and *Join with a
    code…*, within the screen, every field and button at least 24 px each way."""
    with TCPClient.connect(server.tcp_port) as alice:
        me = registered(alice, "owner")
        room = alice.ok("create_room", name=unique("room"))["room"]
        driver.set_window_size(360, 740)
        signed_in(server, driver, me["token"])
        open_room(driver, room["name"])
        driver.find_element(By.ID, "room-settings").click()
        wait_for(driver, lambda d: is_open(d, "room-dialog"))
        wait_for(driver, lambda d: codes_listed(d) == ["No live codes."])
        driver.find_element(By.ID, "invite-code-submit").click()
        wait_for(driver, lambda d: shown(d, "invite-code-made"))
        wait_for(driver, lambda d: len(codes_listed(d)) == 1)
        assert driver.execute_script(OUTSIDE, "#room-dialog") == []
        driver.find_element(By.ID, "room-cancel").click()
        wait_for(driver, lambda d: not is_open(d, "room-dialog"))
        driver.find_element(By.ID, "back").click()
        driver.find_element(By.ID, "join-code-open").click()
        wait_for(driver, lambda d: is_open(d, "join-code-dialog"))
        assert driver.execute_script(OUTSIDE, "#join-code-dialog") == []
        assert driver.execute_script(OUTSIDE, "#join-code-open") == []
