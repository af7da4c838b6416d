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
from tests.integration.browser import wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    SECRET,
    connected,
    errors_logged,
    open_room,
    registered,
    shown,
    signed_in,
    text_of,
    type_into,
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
