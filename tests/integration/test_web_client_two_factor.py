"""Two-factor sign-in in the browser client (docs/WEB.md, "Two-factor sign-in"), in
headless Chromium against ``twistd lairchat``, the codes made in the test with
:mod:`lairchat.domain.totp` as an authenticator app makes them: the dialog from the
keyboard (set up with the password, the secret as text and link, a wrong code
refused, turned on with the right one, the recovery codes shown once and downloaded,
the account's other session ended, turned off with a recovery code); signing in with
a code (asked in the login form, a wrong one said in the server's words, the password
not typed again), with a recovery code, and the same recovery code refused the second
time; at phone width, everything within the screen and big enough for a finger; a
server without the routes (the original's bare 404) saying so."""

from __future__ import annotations

import base64
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from lairchat.domain import totp
from lairchat.testing import ServerProcess
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    connected,
    errors_logged,
    signed_in,
    text_of,
    type_into,
    unique,
)
from tests.integration.test_web_client_export import downloads, saved
from tests.integration.test_web_client_keyboard import account_action, focus, keys

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server

CODE_ASKED = "Two-factor sign-in: type the code your authenticator app shows (or a recovery code)."
REFUSED = (
    "Invalid two-factor code. A code is good once: type the one your app shows now,"
    " or a recovery code."
)
ENDED = "Your other sessions have ended; this one stays signed in."
MISSING = "This server does not offer two-factor sign-in."
KEPT = (
    "Your recovery codes are kept on this page until you confirm you stored them:"
    " open Two-factor sign-in again."
)


def key_of(secret: str) -> bytes:
    """The key an authenticator reads from ``setup``'s secret (base32, no padding)."""
    return base64.b32decode(secret + "=" * (-len(secret) % 8))


def code(key: bytes, step: int | None = None) -> str:
    """The code of ``step`` (the current one when None)."""
    return totp.hotp(key, totp.step_at(time.time()) if step is None else step)


def wrong_code(key: bytes) -> str:
    """Six digits that are no code the server would accept now or soon."""
    now = totp.step_at(time.time())
    good = {totp.hotp(key, s) for s in range(now - 2, now + 3)}
    return next(c for c in ("000000", "111111", "222222") if c not in good)


def registered(server: ServerProcess) -> tuple[str, str]:
    """A new account's name and token."""
    name = unique("tf")
    body = {"username": name, "email": f"{name}@e.com", "password": PASSWORD}
    return name, rest(server, "POST", "/auth/register", body)["token"]


#: What of the element ``arguments[0]`` (a selector) and of its fields, buttons, links,
#: codes and list items is shown outside the window's width, and which of its fields and
#: buttons are under 24 px either way (WCAG 2.5.8): none, on a phone.
OUTSIDE = """const width = document.documentElement.clientWidth;
    const parts = ['', ' button', ' input', ' textarea', ' a', ' code', ' li']
      .map((p) => arguments[0] + p).join(', ');
    return [...document.querySelectorAll(parts)].filter((e) => e.checkVisibility())
      .map((e) => [e.id || e.tagName, e.tagName, e.getBoundingClientRect()])
      .filter(([id, tag, r]) => r.left < 0 || r.right > width
              || (['BUTTON', 'INPUT', 'TEXTAREA'].includes(tag)
                  && (r.width < 24 || r.height < 24)))
      .map(([id, tag, r]) => `${id} ${r.left}..${r.right} ${r.width}x${r.height}`)"""


def dialog_open(chrome: webdriver.Chrome) -> bool:
    return chrome.execute_script("return document.getElementById('twofactor-dialog').open")


def state_is(start: str) -> Any:
    return lambda d: text_of(d, "twofactor-state").startswith(start)


def attributes(chrome: webdriver.Chrome, element_id: str, *names: str) -> list[str | None]:
    field = chrome.find_element(By.ID, element_id)
    return [field.get_attribute(n) for n in names]


def shown_codes(chrome: webdriver.Chrome) -> list[str]:
    return chrome.execute_script(
        "return [...document.querySelectorAll('#twofactor-code-list li')].map(l => l.textContent)"
    )


def refused_with(server: ServerProcess, token: str) -> int:
    """The status ``GET /users/me`` answers ``token`` (200 when it still works)."""
    try:
        rest(server, "GET", "/users/me", token=token)
    except urllib.error.HTTPError as refused:
        return refused.code
    return 200


def test_set_up_turned_on_and_off_from_the_dialog(
    server: ServerProcess, driver: webdriver.Chrome, tmp_path: Path
):
    folder = downloads(driver, tmp_path)
    name, token = registered(server)
    other = rest(server, "POST", "/auth/login", {"identifier": name, "password": PASSWORD})
    signed_in(server, driver, token)

    account_action(driver, "two-factor")
    keys(driver, Keys.ENTER)
    wait_for(driver, dialog_open)
    wait_for(driver, state_is("Two-factor sign-in is off."))
    assert focus(driver)["id"] == "twofactor-password"
    assert "ends your other sessions" in text_of(driver, "twofactor-note")
    keys(driver, "typed, then cancelled", Keys.ESCAPE)
    wait_for(driver, lambda d: focus(d)["id"] == "two-factor")
    assert not dialog_open(driver)
    assert driver.find_element(By.ID, "twofactor-password").get_attribute("value") == ""

    keys(driver, Keys.ENTER)
    wait_for(driver, state_is("Two-factor sign-in is off."))
    keys(driver, "not the password", Keys.ENTER)
    wait_for(driver, lambda d: text_of(d, "twofactor-error") == "Not set up: Invalid credentials")
    assert focus(driver)["id"] == "twofactor-password"

    keys(driver, PASSWORD, Keys.ENTER)
    wait_for(driver, state_is("Set up, not on yet."))
    assert "ends your other sessions" in text_of(driver, "twofactor-state")  # said before
    assert focus(driver)["id"] == "twofactor-secret-intro"
    secret = text_of(driver, "twofactor-key")
    uri = driver.find_element(By.ID, "twofactor-uri").get_attribute("value")
    assert uri.startswith("otpauth://totp/lairchat:") and f"secret={secret}" in uri
    assert driver.find_element(By.ID, "twofactor-link").get_attribute("href") == uri
    assert attributes(driver, "twofactor-code", "autocomplete", "inputmode") == [
        "one-time-code",
        "numeric",
    ]
    assert refused_with(server, other["token"]) == 200  # nothing in force yet
    key = key_of(secret)

    # Copied for an authenticator on this machine; where the browser allows the page no
    # clipboard, the URI is selected for the user to copy instead.
    driver.execute_cdp_cmd(
        "Browser.grantPermissions",
        {"origin": server.url, "permissions": ["clipboardReadWrite", "clipboardSanitizedWrite"]},
    )
    driver.find_element(By.ID, "twofactor-copy-uri").click()
    wait_for(driver, lambda d: text_of(d, "twofactor-copied") == "Copied: the URI.")
    pasted = driver.execute_async_script(
        "navigator.clipboard.readText().then(arguments[0], () => arguments[0](null))"
    )
    assert pasted == uri
    driver.execute_script(
        "Object.defineProperty(navigator, 'clipboard', {value: undefined, configurable: true})"
    )
    driver.find_element(By.ID, "twofactor-copy-uri").click()
    wait_for(driver, lambda d: text_of(d, "twofactor-copied").startswith("Not copied"))
    selected = "const f = document.activeElement; return [f.id, f.selectionStart, f.selectionEnd]"
    assert driver.execute_script(selected) == ["twofactor-uri", 0, len(uri)]
    driver.find_element(By.ID, "twofactor-code").click()

    keys(driver, wrong_code(key), Keys.ENTER)
    wait_for(
        driver,
        lambda d: text_of(d, "twofactor-error") == "Not turned on: Invalid two-factor code",
    )
    assert focus(driver)["id"] == "twofactor-code"
    assert text_of(driver, "twofactor-key") == secret  # still there to read

    keys(driver, code(key), Keys.ENTER)
    wait_for(driver, state_is("Two-factor sign-in is on."))
    assert text_of(driver, "twofactor-state") == f"Two-factor sign-in is on. {ENDED}"
    assert text_of(driver, "notice-text") == f"Two-factor sign-in is on. {ENDED}"
    assert focus(driver)["id"] == "twofactor-codes-intro"
    assert text_of(driver, "twofactor-codes-intro").startswith("Store these recovery codes now")
    codes = shown_codes(driver)
    assert len(codes) == 10 and all(len(c.replace("-", "")) == 12 for c in codes)
    assert not driver.find_element(By.ID, "twofactor-form").is_displayed()
    # The other session ended; this page's stays.
    assert refused_with(server, other["token"]) == 401
    assert refused_with(server, token) == 200 and connected(driver)

    driver.find_element(By.ID, "twofactor-download-codes").click()
    files = wait_for(driver, lambda d: saved(folder))
    assert files[0].name == "lairchat-recovery-codes.txt"
    written = files[0].read_text().splitlines()
    assert written[0].startswith(f"lairchat recovery codes for {name} on ")
    assert written[3:13] == codes

    # Esc does not lose them: kept (and said so) until confirmed stored.
    keys(driver, Keys.ESCAPE)
    wait_for(driver, lambda d: focus(d)["id"] == "two-factor")
    assert not dialog_open(driver)
    wait_for(driver, lambda d: text_of(d, "twofactor-code-list") == "")
    assert text_of(driver, "notice-text") == KEPT

    other = rest(
        server,
        "POST",
        "/auth/login",
        {"identifier": name, "password": PASSWORD, "totp": codes[0]},
    )
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: shown_codes(d) == codes)
    assert focus(driver)["id"] == "twofactor-codes-intro"
    driver.find_element(By.ID, "twofactor-codes-stored").click()  # the codes leave the page
    wait_for(driver, state_is("Two-factor sign-in is on. 9 recovery codes left."))
    assert shown_codes(driver) == []
    assert focus(driver)["id"] == "twofactor-password"
    type_into(driver, "twofactor-password", PASSWORD)
    driver.find_element(By.ID, "twofactor-recovery").click()
    assert text_of(driver, "twofactor-code-label") == "Recovery code"
    assert attributes(driver, "twofactor-code", "inputmode") == ["text"]
    assert focus(driver)["id"] == "twofactor-code"
    keys(driver, codes[0], Keys.ENTER)  # used for the login above
    wait_for(
        driver,
        lambda d: text_of(d, "twofactor-error") == "Not turned off: Invalid two-factor code",
    )
    assert focus(driver)["id"] == "twofactor-password"
    type_into(driver, "twofactor-password", PASSWORD)
    type_into(driver, "twofactor-code", codes[1])
    keys(driver, Keys.ENTER)
    wait_for(driver, state_is("Two-factor sign-in is off."))
    assert text_of(driver, "notice-text") == f"Two-factor sign-in is off. {ENDED}"
    assert focus(driver)["id"] == "twofactor-state"
    assert refused_with(server, other["token"]) == 401 and connected(driver)
    # A password alone signs in again.
    assert rest(server, "POST", "/auth/login", {"identifier": name, "password": PASSWORD})
    assert errors_logged(driver, network=False) == []


def turned_on(server: ServerProcess, token: str) -> tuple[bytes, list[str], int]:
    """Two-factor sign-in turned on over REST: the key, the recovery codes, and the
    step whose code turned it on (used up: a login needs a later one)."""
    secret = rest(server, "POST", "/users/me/2fa/setup", {"password": PASSWORD}, token)["secret"]
    key = key_of(secret)
    step = totp.step_at(time.time())
    answer = rest(server, "POST", "/users/me/2fa/enable", {"code": code(key, step)}, token)
    return key, answer["recovery_codes"], step


def log_in(chrome: webdriver.Chrome, name: str) -> None:
    type_into(chrome, "login-identifier", name)
    type_into(chrome, "login-password", PASSWORD)
    chrome.find_element(By.ID, "login-password").send_keys(Keys.ENTER)
    wait_for(chrome, lambda d: text_of(d, "login-reason") == CODE_ASKED)


def log_out(chrome: webdriver.Chrome) -> None:
    chrome.find_element(By.ID, "logout").click()
    wait_for(chrome, lambda d: text_of(d, "login-reason") == "You are logged out.")


def test_signing_in_with_a_code_and_with_recovery_codes(
    server: ServerProcess, driver: webdriver.Chrome
):
    name, token = registered(server)
    key, codes, used = turned_on(server, token)
    driver.get(server.url + "/")
    wait_for(driver, lambda d: d.find_element(By.ID, "login-identifier").is_displayed())
    assert not driver.find_element(By.ID, "login-code").is_displayed()

    size = driver.get_window_size()
    driver.set_window_size(360, 740)  # a phone: the field and its toggle fit, finger-sized
    log_in(driver, name)
    assert driver.execute_script(OUTSIDE, "#login-form") == []
    driver.set_window_size(size["width"], size["height"])
    assert focus(driver)["id"] == "login-code"
    assert attributes(driver, "login-code", "autocomplete", "inputmode") == [
        "one-time-code",
        "numeric",
    ]
    assert text_of(driver, "login-code-label") == "Code from your app"
    # The password is not asked again: it waits in its field for the code.
    assert driver.find_element(By.ID, "login-password").get_attribute("value") == PASSWORD

    keys(driver, wrong_code(key), Keys.ENTER)
    wait_for(driver, lambda d: text_of(d, "login-reason") == REFUSED)
    assert focus(driver)["id"] == "login-code"
    assert driver.find_element(By.ID, "login-code").get_attribute("value") == ""
    assert driver.find_element(By.ID, "login-password").get_attribute("value") == PASSWORD

    keys(driver, code(key, used + 1), Keys.ENTER)  # the next step's: not used yet
    wait_for(driver, connected)
    assert text_of(driver, "me") == name
    log_out(driver)
    assert not driver.find_element(By.ID, "login-code").is_displayed()

    for attempt in ("first", "second"):
        log_in(driver, name)
        driver.find_element(By.ID, "login-recovery").click()
        assert text_of(driver, "login-code-label") == "Recovery code"
        assert attributes(driver, "login-code", "inputmode") == ["text"]
        assert focus(driver)["id"] == "login-code"
        keys(driver, codes[0].upper(), Keys.ENTER)  # case ignored
        if attempt == "first":
            wait_for(driver, connected)
            log_out(driver)
        else:
            wait_for(driver, lambda d: text_of(d, "login-reason") == REFUSED)
            assert not connected(driver)
    assert errors_logged(driver, network=False) == []


def test_a_phone_sets_it_up_within_the_screen(server: ServerProcess, driver: webdriver.Chrome):
    """At 360 px wide: *Two-factor sign-in* in the *Account* menu; the dialog, the
    secret, its URI and the recovery codes within the screen; every field and button
    at least 24 px each way (WCAG 2.5.8)."""
    _, token = registered(server)
    driver.set_window_size(360, 740)
    signed_in(server, driver, token)
    driver.find_element(By.ID, "account-button").click()  # its menu holds the button
    driver.find_element(By.ID, "two-factor").click()
    wait_for(driver, dialog_open)
    wait_for(driver, state_is("Two-factor sign-in is off."))
    assert driver.execute_script(OUTSIDE, "#twofactor-dialog") == []
    type_into(driver, "twofactor-password", PASSWORD)
    driver.find_element(By.ID, "twofactor-submit").click()
    wait_for(driver, state_is("Set up, not on yet."))
    assert driver.execute_script(OUTSIDE, "#twofactor-dialog") == []
    key = key_of(text_of(driver, "twofactor-key"))
    type_into(driver, "twofactor-code", code(key))
    driver.find_element(By.ID, "twofactor-submit").click()
    wait_for(driver, state_is("Two-factor sign-in is on."))
    assert driver.execute_script(OUTSIDE, "#twofactor-dialog") == []
    driver.find_element(By.ID, "twofactor-close").click()
    wait_for(driver, lambda d: focus(d)["id"] == "account-button")
    assert not dialog_open(driver)


@pytest.mark.parametrize("where", ["settings", "users_me"])
def test_a_server_without_two_factor_says_so(
    server: ServerProcess, driver: webdriver.Chrome, where: str
):
    """The original Lair Chat: the routes answered with a bare 404 (and its ``GET
    /users/me`` without ``two_factor``): the dialog says the server does not offer it,
    and offers nothing to send."""
    _, token = registered(server)
    signed_in(server, driver, token)
    driver.execute_script(browser.unknown_path(r"/users/me/2fa/"))
    if where == "users_me":  # Lair Chat's answer: the user and nothing else
        driver.execute_script(
            """const realFetch = window.fetch;
               window.fetch = async (url, ...rest) => {
                 const answer = await realFetch(url, ...rest);
                 if (!/\\/users\\/me$/.test(String(url))) return answer;
                 const { user } = await answer.json();
                 return new Response(JSON.stringify({ user }), { status: 200 });
               };"""
        )
    account_action(driver, "two-factor")
    keys(driver, Keys.ENTER)
    wait_for(driver, dialog_open)
    if where == "settings":
        wait_for(driver, state_is("Two-factor sign-in is off."))
        keys(driver, PASSWORD, Keys.ENTER)
        wait_for(driver, lambda d: text_of(d, "twofactor-error") == MISSING)
    wait_for(driver, lambda d: text_of(d, "twofactor-state") == MISSING)
    assert not driver.find_element(By.ID, "twofactor-form").is_displayed()
    assert focus(driver)["id"] == "twofactor-close"
    assert errors_logged(driver, network=False) == []


def test_new_recovery_codes_and_the_account_deleted_with_a_code(
    server: ServerProcess, driver: webdriver.Chrome
):
    """*New recovery codes* in the dialog (the password and a code, the old codes
    refused after), kept over *Close* until confirmed stored; then *Delete account*
    asks for a code beside the password, as the server does with it on."""
    name, token = registered(server)
    key, old, step = turned_on(server, token)
    signed_in(server, driver, token)
    account_action(driver, "two-factor")
    keys(driver, Keys.ENTER)
    wait_for(driver, state_is("Two-factor sign-in is on. 10 recovery codes left."))
    assert "for new recovery codes" in text_of(driver, "twofactor-state")
    type_into(driver, "twofactor-password", PASSWORD)
    type_into(driver, "twofactor-code", wrong_code(key))
    driver.find_element(By.ID, "twofactor-renew").click()
    wait_for(
        driver,
        lambda d: text_of(d, "twofactor-error") == "No new recovery codes: Invalid two-factor code",
    )
    type_into(driver, "twofactor-password", PASSWORD)
    type_into(driver, "twofactor-code", code(key, step + 1))
    driver.find_element(By.ID, "twofactor-renew").click()
    wait_for(driver, state_is("New recovery codes: the ones you had no longer work."))
    new = shown_codes(driver)
    assert len(new) == 10 and not set(new) & set(old)
    assert focus(driver)["id"] == "twofactor-codes-intro"
    driver.find_element(By.ID, "twofactor-close").click()
    wait_for(driver, lambda d: not dialog_open(d))
    assert text_of(driver, "notice-text") == KEPT
    body = {"identifier": name, "password": PASSWORD, "totp": old[0]}
    with pytest.raises(urllib.error.HTTPError) as refused:
        rest(server, "POST", "/auth/login", body)
    assert refused.value.code == 401
    account_action(driver, "two-factor")
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: shown_codes(d) == new)
    driver.find_element(By.ID, "twofactor-codes-stored").click()
    wait_for(driver, state_is("Two-factor sign-in is on. 10 recovery codes left."))
    keys(driver, Keys.ESCAPE)
    wait_for(driver, lambda d: not dialog_open(d))

    # Deleting the account: the code field is there, required; a password alone would
    # not do.
    account_action(driver, "delete-account")
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: d.find_element(By.ID, "delete-code").is_displayed())
    assert attributes(driver, "delete-code", "required") == ["true"]
    type_into(driver, "delete-password", PASSWORD)
    type_into(driver, "delete-username", name)
    type_into(driver, "delete-code", new[3])
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: text_of(d, "login-reason") == "Your account was deleted.")
    assert errors_logged(driver, network=False) == []
