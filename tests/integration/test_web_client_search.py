"""Message search in the browser client (docs/WEB.md, "Message search"), in headless
Chromium against ``twistd lairchat``: the field in the lists, the results panel (time,
conversation, author, the line with the match in a ``mark``, text only), newest first,
this conversation or every one, *Search older messages* with ``next_before``, a result
opening its conversation, the count said to screen readers, Esc closing; and a server
without search (the original's 404) named as such."""

from __future__ import annotations

from typing import Any

from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.ui import Select

from lairchat.testing import ServerProcess
from lairchat.testing_clients import TCPClient
from tests.integration import browser, test_web_client_browser
from tests.integration.browser import click, wait_for
from tests.integration.test_web_client_browser import (
    errors_logged,
    open_room,
    signed_in,
    text_of,
    two_users_in_two_rooms,
)
from tests.integration.test_web_client_mentions import before_page

driver = browser.driver  # the shared fixtures
server = test_web_client_browser.server

#: The original Lair Chat's answer to ``GET /api/v1/messages/search``, put in place of
#: the server's before the page's script runs.
NO_SEARCH_ROUTE = browser.unknown_path(r"^/api/v1/messages/search")


def results(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    """The panel's results as shown: the text of each, and of its mark."""
    return chrome.execute_script(
        "return [...document.querySelectorAll('#search-list li.search-result')].map((li) =>"
        " ({text: li.textContent, mark: li.querySelector('mark')?.textContent ?? null,"
        "   where: li.querySelector('.where').textContent,"
        "   author: li.querySelector('.author').textContent}))"
    )


def said(chrome: webdriver.Chrome) -> str:
    return text_of(chrome, "announcer")


def search(chrome: webdriver.Chrome, query: str, scope: str) -> None:
    """Typed in the field, the scope picked, Enter: as from the keyboard."""
    Select(chrome.find_element(By.ID, "search-scope")).select_by_value(scope)
    field = chrome.find_element(By.ID, "search-text")
    field.clear()
    field.send_keys(query, Keys.ENTER)


def test_search_finds_marks_pages_and_opens(server: ServerProcess, driver: webdriver.Chrome):
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        (mine, theirs), (one, two) = two_users_in_two_rooms(alice, bob)
        bob_name = theirs["user"]["username"]
        in_one = {"type": "room", "room_id": one["id"]}
        bob.ok("send_message", target=in_one, content="Lunch at noon?")
        bob.ok("send_message", target=in_one, content="nothing to see")
        hostile = 'first line\nLUNCH <img src=x onerror="window.__xss=1"> \u202eexe.txt'
        bob.ok("send_message", target=in_one, content=hostile)
        to_me = {"type": "dm", "recipient": mine["user"]["id"]}
        bob.ok("send_message", target=to_me, content="lunch in private")
        in_two = {"type": "room", "room_id": two["id"]}
        for n in range(22):  # more than a page (20)
            bob.ok("send_message", target=in_two, content=f"crumb {n}")

        signed_in(server, driver, mine["token"])
        open_room(driver, one["name"])
        search(driver, "lunch", "here")
        wait_for(driver, lambda d: len(results(d)) == 2)
        found = results(driver)
        # Newest first, the match marked in the line that holds it, text only.
        assert [r["mark"] for r in found] == ["LUNCH", "Lunch"]
        assert found[0]["where"] == f"#{one['name']}" and found[0]["author"] == bob_name
        assert "first line" not in found[0]["text"]
        assert "U+202Eexe.txt" in found[0]["text"] and "<img" in found[0]["text"]
        assert driver.execute_script("return window.__xss") is None
        assert driver.execute_script("return document.querySelectorAll('img').length") == 0
        assert "Results for “lunch” in" in text_of(driver, "search-heading")
        wait_for(driver, lambda d: "2 messages found." in said(d))

        search(driver, "LUNCH", "all")
        wait_for(driver, lambda d: len(results(d)) == 3)
        assert results(driver)[0]["where"] == bob_name  # the DM, newest

        # Paging: 22 crumbs, 20 a page; the rest only when asked.
        search(driver, "crumb", "all")
        wait_for(driver, lambda d: len(results(d)) == 20)
        assert [r["mark"] for r in results(driver)][:2] == ["crumb", "crumb"]
        assert results(driver)[0]["text"].endswith("crumb 21")
        wait_for(driver, lambda d: "Older messages are not searched yet." in said(d))
        click(driver, By.ID, "search-more")
        wait_for(driver, lambda d: len(results(d)) == 22)
        assert results(driver)[-1]["text"].endswith("crumb 0")
        wait_for(driver, lambda d: "2 messages found in older messages." in said(d))
        assert text_of(driver, "search-status") == "No older match."

        # Filters: bob's messages in the room, no text; the text field then may be empty.
        click(driver, By.CSS_SELECTOR, "#search-filters summary")
        driver.find_element(By.ID, "search-from").send_keys(bob_name.upper())
        search(driver, "", "here")
        wait_for(driver, lambda d: len(results(d)) == 3)
        assert [r["author"] for r in results(driver)] == [bob_name] * 3
        assert results(driver)[0]["text"].endswith("first line")
        heading = text_of(driver, "search-heading")
        assert heading == f"Results from {bob_name.upper()} in #{one['name']}"
        driver.find_element(By.ID, "search-from").clear()

        # A result opens its conversation; Esc in the panel closes it.
        search(driver, "private", "all")
        wait_for(driver, lambda d: len(results(d)) == 1)
        click(driver, By.CSS_SELECTOR, "#search-list li.search-result button")
        wait_for(
            driver,
            lambda d: text_of(d, "conversation-title") == f"Direct messages with {bob_name}",
        )
        driver.find_element(By.ID, "search-close").send_keys(Keys.ESCAPE)
        wait_for(driver, lambda d: d.find_element(By.ID, "search-results").get_attribute("hidden"))
        assert driver.switch_to.active_element.get_attribute("id") == "search-text"
        assert errors_logged(driver, network=False) == []


def test_a_server_without_search_says_so(server: ServerProcess, driver: webdriver.Chrome):
    """The original Lair Chat answers the path 404 with no body: not an error banner
    with "HTTP 404", but the panel (and the announcer) saying there is no search."""
    before_page(driver, NO_SEARCH_ROUTE)
    with TCPClient.connect(server.tcp_port) as alice, TCPClient.connect(server.tcp_port) as bob:
        (mine, _), _ = two_users_in_two_rooms(alice, bob)
        signed_in(server, driver, mine["token"])
        search(driver, "anything", "all")
        wait_for(driver, lambda d: "no message search" in text_of(d, "search-status"))
        assert text_of(driver, "search-status") == "This server has no message search."
        assert "This server has no message search." in said(driver)
        assert "No message holds that" not in text_of(driver, "search-results")
        assert driver.find_element(By.ID, "alert").get_attribute("hidden") is not None
