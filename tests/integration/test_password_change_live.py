"""A password change made in one of our clients ends the account's session in the
other, which says why (docs/CLIENT.md, docs/WEB.md).

A real ``twistd lairchat``, the terminal client in tmux (tests/integration/
test_client_tmux.py) and the web client in headless Chromium (tests/integration/
browser.py), both signed in as the same account, each its own session. Found in a
review of sessions: neither client could change the password, and both dropped the
server's reason when a change elsewhere ended their session ("Your session has
ended", "you logged out elsewhere?").
"""

from __future__ import annotations

import uuid
from pathlib import Path

from selenium import webdriver
from selenium.webdriver.common.by import By

from tests.integration import browser, test_client_tmux
from tests.integration.browser import rest, wait_for
from tests.integration.test_client_tmux import PASSWORD, Server, Terminal, tmux_binary
from tests.integration.test_web_client_browser import connected, shown, signed_in, text_of
from tests.integration.test_web_client_session import (
    NEW_PASSWORD,
    PASSWORD_CHANGED,
    password_dialog_open,
    send_password_form,
)

driver = browser.driver  # the shared fixtures
terminals = test_client_tmux.terminals


def test_a_password_change_in_one_client_ends_the_other_with_the_reason(
    tmp_path: Path, terminals: list[Terminal], driver: webdriver.Chrome
) -> None:
    server = Server(tmp_path)
    try:
        name = f"alice_{uuid.uuid4().hex[:6]}"
        account = {"username": name, "email": f"{name}@example.com", "password": PASSWORD}
        rest(server, "POST", "/auth/register", account)
        login = {"identifier": name, "password": PASSWORD}
        signed_in(server, driver, rest(server, "POST", "/auth/login", login)["token"])
        term = Terminal(
            tmux_binary(), f"lairchat-test-{name}", "alice", server.client_args(), tmp_path
        )
        terminals.append(term)
        term.log_in(name, PASSWORD)

        # The terminal changes the password: the page's session ends, and it says why.
        term.keys("i")
        term.command("/password")
        term.wait_for("Change password")
        for text in (PASSWORD, NEW_PASSWORD, NEW_PASSWORD):
            term.type(text)
            term.keys("Enter")
        shown_after = term.wait_for("Password changed; your other sessions have ended")
        assert PASSWORD not in shown_after and "● online" in shown_after
        wait_for(driver, lambda d: shown(d, "login-view"))
        assert text_of(driver, "login-reason") == f"{PASSWORD_CHANGED}. Please log in again."

        # The page signs in with the new password and changes it back: now the
        # terminal's session ends, and it says why.
        driver.find_element(By.ID, "login-identifier").send_keys(name)
        driver.find_element(By.ID, "login-password").send_keys(NEW_PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "#login-form button").click()
        wait_for(driver, connected)
        driver.find_element(By.ID, "change-password").click()
        wait_for(driver, password_dialog_open)
        send_password_form(driver, NEW_PASSWORD, PASSWORD)
        wait_for(driver, lambda d: not password_dialog_open(d))
        term.wait_for(f"{PASSWORD_CHANGED}. Please log in again")
        assert "L A I R   C H A T" in term.screen()
        assert connected(driver)
        assert text_of(driver, "notice-text") == "Password changed. Your other sessions have ended."
    finally:
        server.stop()
