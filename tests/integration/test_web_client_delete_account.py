"""Deleting one's account in the browser client (docs/WEB.md, "Deleting your account"),
in headless Chromium against ``twistd lairchat``: *Delete account* opens the page's
form dialog from the keyboard (the focus in it, Esc closing it, the focus back), a
wrong password and a mistyped username refused, then the account deleted: the page
back on the login form saying so, nothing of the account in its storage, another
session's TCP connection told why it ended, the account's login refused."""

from __future__ import annotations

import urllib.error

import pytest
from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    errors_logged,
    signed_in,
    text_of,
    two_users_in_two_rooms,
    type_into,
)
from tests.integration.test_web_client_keyboard import focus, focus_on, keys

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server


def dialog_open(chrome: webdriver.Chrome) -> bool:
    return chrome.execute_script("return document.getElementById('delete-dialog').open")


def send_form(chrome: webdriver.Chrome, password: str, username: str) -> None:
    """Both fields filled in, then Enter in the last (which sends the form)."""
    type_into(chrome, "delete-password", password)
    type_into(chrome, "delete-username", username)
    keys(chrome, Keys.ENTER)


def test_the_account_is_deleted_from_the_dialog(server: ServerProcess, driver: webdriver.Chrome):
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        accounts, _ = two_users_in_two_rooms(alice, bob)
        name = accounts[0]["user"]["username"]
        login = {"identifier": name, "password": PASSWORD}
        token = rest(server, "POST", "/auth/login", login)["token"]
        signed_in(server, driver, token)
        driver.execute_script("localStorage.setItem('lairchat.notify', 'on')")

        focus_on(driver, "#delete-account")
        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        assert focus(driver)["id"] == "delete-password"
        assert "cannot be undone" in text_of(driver, "delete-note")
        assert text_of(driver, "delete-name") == name
        keys(driver, "typed, then cancelled", Keys.ESCAPE)
        wait_for(driver, lambda d: not dialog_open(d))
        assert focus(driver)["id"] == "delete-account"
        assert driver.find_element("id", "delete-password").get_attribute("value") == ""

        keys(driver, Keys.ENTER)
        wait_for(driver, dialog_open)
        send_form(driver, "not the password", name)
        wait_for(
            driver,
            lambda d: text_of(d, "delete-error") == "Account not deleted: Invalid credentials",
        )
        assert focus(driver)["id"] == "delete-password"
        send_form(driver, PASSWORD, name.upper())
        assert text_of(driver, "delete-error") == f"Type your username, {name}, to confirm."
        assert focus(driver)["id"] == "delete-username"
        assert rest(server, "POST", "/auth/login", login)["token"]  # nothing deleted yet

        send_form(driver, PASSWORD, name)
        wait_for(driver, lambda d: text_of(d, "login-reason") == "Your account was deleted.")
        assert not dialog_open(driver)
        assert driver.execute_script("return [sessionStorage.length, localStorage.length]") == [
            0,
            0,
        ]
        # The other session (alice's TCP connection) was ended, and told why.
        ended = [m for m in alice.expect_closed() if m["type"] == "error"]
        assert [(m["code"], m["message"]) for m in ended] == [
            ("session_not_found", "Session ended: the account was deleted")
        ]
        with pytest.raises(urllib.error.HTTPError) as refused:
            rest(server, "POST", "/auth/login", login)
        assert refused.value.code == 401
        with pytest.raises(urllib.error.HTTPError) as gone:
            rest(server, "GET", "/users/me", token=token)
        assert gone.value.code == 401
        assert errors_logged(driver, network=False) == []
