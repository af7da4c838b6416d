"""The audit log in the browser client's *Administration* panel (docs/WEB.md,
"Administration"), in headless Chromium against ``twistd lairchat``, from the keyboard:
the newest 20 entries when the panel opens, newest first and each a sentence (a room
named with markup shown as text), *Older* adding the page before with the focus on its
first entry and going once there is none, *Refresh* showing an action made since; at
phone width the same, its entries wrapped inside the screen; and a server without the
route (the original's bare 404) saying it keeps none."""

from __future__ import annotations

from selenium import webdriver
from selenium.webdriver.common.keys import Keys

from lairchat.testing import ServerProcess
from tests.integration import browser, test_web_client_rooms_admin
from tests.integration.browser import rest, wait_for
from tests.integration.test_web_client_browser import (
    PASSWORD,
    errors_logged,
    inert,
    shown,
    signed_in,
    text_of,
    unique,
)
from tests.integration.test_web_client_keyboard import account_action, focus, focus_on, keys
from tests.integration.test_web_client_rooms_admin import ADMIN, MARKUP, SMALL, login

driver = browser.driver  # the shared fixtures
server = test_web_client_rooms_admin.server  # an admin made at the start, ADMIN


def entries(chrome: webdriver.Chrome) -> list[str]:
    """The audit log's lines as shown, newest first."""
    return chrome.execute_script(
        "return [...document.querySelectorAll('#admin-audit-list li')].map((li) => li.textContent)"
    )


def focused_entry(chrome: webdriver.Chrome) -> int | None:
    """Which of the audit log's lines has the focus (None: none of them)."""
    return chrome.execute_script(
        "const at = [...document.querySelectorAll('#admin-audit-list li')]"
        ".indexOf(document.activeElement); return at < 0 ? null : at"
    )


def account(server: ServerProcess, name: str) -> str:
    """A new account's id."""
    body = {"username": name, "email": f"{name}@e.com", "password": PASSWORD}
    return rest(server, "POST", "/auth/register", body)["user"]["id"]


def recorded(server: ServerProcess, token: str) -> tuple[str, str]:
    """21 entries (more than a page): a user banned (with a reason) and unbanned
    ten times, then a room named with markup deleted by the admin. The user's name
    and the room's."""
    name = unique("carol")
    user_id = account(server, name)
    for _ in range(10):
        body = {"duration_hours": 1, "reason": "spam"}
        rest(server, "POST", f"/admin/users/{user_id}/ban", body, token=token)
        rest(server, "POST", f"/admin/users/{user_id}/unban", token=token)
    room = rest(server, "POST", "/rooms", {"name": MARKUP}, token=token)["room"]
    rest(server, "DELETE", f"/admin/rooms/{room['id']}", token=token)
    return name, user_id


def opened(chrome: webdriver.Chrome) -> None:
    """*Administration* pressed from the keyboard (in the *Account* menu on a phone):
    the panel open, its audit log read."""
    account_action(chrome, "show-admin")
    keys(chrome, Keys.ENTER)
    wait_for(chrome, lambda d: d.find_element("id", "admin-panel").is_displayed())
    wait_for(chrome, lambda d: text_of(d, "admin-audit-status") == "" and entries(d))


def test_the_audit_log_newest_first_and_older_pages(
    server: ServerProcess, driver: webdriver.Chrome
):
    admin = login(server, ADMIN)
    name, user_id = recorded(server, admin["token"])
    signed_in(server, driver, admin["token"])
    opened(driver)

    shown_first = entries(driver)
    assert len(shown_first) == 20
    newest, unban = shown_first[0], shown_first[1]
    assert newest.endswith(f": {ADMIN} deleted the room {MARKUP}")
    assert driver.execute_script("return document.querySelectorAll('#admin-panel b').length") == 0
    inert(driver)
    assert unban.endswith(f": {ADMIN} unbanned {name}")
    assert f": {ADMIN} banned {name} until " in shown_first[2]
    assert shown_first[2].endswith(", reason “spam”")
    assert shown(driver, "admin-audit-older")

    # Older: the rest (the server's own start may have recorded some: the admin made
    # from LAIR_ADMIN_USERNAME), the oldest last, as the server lists them.
    everything = rest(server, "GET", "/admin/audit?limit=200", token=admin["token"])["entries"]
    assert 20 < len(everything) <= 40
    oldest = everything[-1]
    focus_on(driver, "#admin-audit-older")
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: len(entries(d)) == len(everything))
    assert entries(driver)[:20] == shown_first
    assert oldest["subject"]["name"] in entries(driver)[-1]
    if oldest["actor"].get("operator"):
        assert ": The operator (command line) " in entries(driver)[-1]
    wait_for(driver, lambda d: not shown(d, "admin-audit-older"))
    assert focused_entry(driver) == 20  # read on from the first entry added

    # An action made since: *Refresh* shows it first, the log's newest page again.
    body = {"duration_hours": None}
    rest(server, "POST", f"/admin/users/{user_id}/ban", body, token=admin["token"])
    focus_on(driver, "#admin-refresh")
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: entries(d)[0].endswith(f": {ADMIN} banned {name} for good"))
    assert len(entries(driver)) == 20 and entries(driver)[1] == newest
    assert shown(driver, "admin-audit-older")
    assert text_of(driver, "admin-error") == ""
    assert focus(driver)["id"] == "admin-refresh"
    assert errors_logged(driver, network=False) == []


#: Each audit line wider than the list holding it (a line that would run off a phone's
#: screen).
OVERFLOWING = """return [...document.querySelectorAll('#admin-audit-list li')]
  .filter((li) => li.scrollWidth > li.clientWidth
                  || li.getBoundingClientRect().right > window.innerWidth)
  .map((li) => li.textContent)"""


def test_a_phone_gets_the_audit_log(server: ServerProcess, driver: webdriver.Chrome):
    """At 360 px: every entry wrapped inside the screen (a long name too), *Older* a
    target a finger can hit."""
    admin = login(server, ADMIN)
    recorded(server, admin["token"])
    long_name = "w" * 32
    user_id = account(server, long_name)
    body = {"reason": "x" * 200}
    rest(server, "POST", f"/admin/users/{user_id}/ban", body, token=admin["token"])
    driver.set_window_size(360, 740)
    signed_in(server, driver, admin["token"])
    opened(driver)
    assert long_name in entries(driver)[0]
    assert driver.execute_script(OVERFLOWING) == []
    assert shown(driver, "admin-audit-older")
    assert driver.execute_script(SMALL) == []
    focus_on(driver, "#admin-audit-older")
    keys(driver, Keys.ENTER)
    wait_for(driver, lambda d: len(entries(d)) > 20)
    assert driver.execute_script(OVERFLOWING) == []
    assert errors_logged(driver, network=False) == []


#: The page's fetch, but for the audit log's route, which answers as the original
#: Lair Chat answers a path it does not serve.
NO_ROUTE = browser.unknown_path(r"^/api/v1/admin/audit")


def test_a_server_without_the_audit_log_says_so(server: ServerProcess, driver: webdriver.Chrome):
    admin = login(server, ADMIN)
    signed_in(server, driver, admin["token"])
    driver.execute_script(NO_ROUTE)
    opened(driver)
    assert entries(driver) == ["This server keeps no audit log."]
    assert not shown(driver, "admin-audit-older")
    assert text_of(driver, "admin-error") == ""
    assert "Users" in text_of(driver, "admin-stats")  # the rest of the panel works
