"""Headless Chromium for the browser tests, driven by Selenium.

``driver`` is the fixture (import it into a test module to use it); ``rest`` makes the
REST calls a test makes beside the page.

The browser and its driver are Debian's ``chromium`` and ``chromium-driver`` (installed
by ``.ci/run``); nothing is downloaded: the driver path is given to Selenium, so Selenium
Manager is never run. The browser's console is kept (``console(chrome)``), so a test
can check that a page logged no error, a refused Content-Security-Policy included.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from selenium import webdriver
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.support.wait import WebDriverWait

from lairchat.testing import ServerProcess

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
TIMEOUT = 10.0


@contextlib.contextmanager
def chromium(timeout: float = TIMEOUT) -> Iterator[webdriver.Chrome]:
    """A fresh headless Chromium with its own profile, quit and removed afterwards."""
    profile = tempfile.TemporaryDirectory(prefix="lairchat-chromium-", ignore_cleanup_errors=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",  # we may be root
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile.name}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    # An explicit driver path: Selenium Manager (which could download) is not run.
    service = Service(executable_path=CHROMEDRIVER)
    try:
        chrome = webdriver.Chrome(options=options, service=service)
        try:
            chrome.set_page_load_timeout(timeout)
            chrome.set_script_timeout(timeout)
            yield chrome
        finally:
            chrome.quit()
    finally:
        profile.cleanup()


@pytest.fixture
def driver() -> Iterator[webdriver.Chrome]:
    with chromium() as chrome:
        yield chrome


def wait_for(
    chrome: webdriver.Chrome, condition: Callable[[webdriver.Chrome], Any], timeout: float = TIMEOUT
) -> Any:
    """``condition``'s first truthy answer, polled every 50 ms (TimeoutException after
    ``timeout`` seconds)."""
    return WebDriverWait(chrome, timeout, poll_frequency=0.05).until(condition)


def click(chrome: webdriver.Chrome, by: str, selector: str, timeout: float = TIMEOUT) -> None:
    """Click the first element ``selector`` finds, once there is one. The page redraws
    its lists on events, so an element found may be replaced before the click lands:
    it is then found again (a StaleElementReferenceException is a retry, not a fail)."""

    def clicked(d: webdriver.Chrome) -> bool:
        try:
            found = d.find_elements(by, selector)
            if found:
                found[0].click()
            return bool(found)
        except StaleElementReferenceException:
            return False

    wait_for(chrome, clicked, timeout)


def console(chrome: webdriver.Chrome) -> list[dict[str, Any]]:
    """The browser console's entries since the last call."""
    return chrome.get_log("browser")


def rest(
    server: ServerProcess, method: str, path: str, body: Any = None, token: str | None = None
) -> Any:
    """One call to ``/api/v1<path>``; the decoded JSON answer (HTTP errors raise)."""
    request = urllib.request.Request(
        f"{server.url}/api/v1{path}",
        data=json.dumps({} if body is None else body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    # No proxy, whatever the environment says: the server is on loopback.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=TIMEOUT) as response:
        return json.load(response)


def unknown_path(pattern: str) -> str:
    """A script that makes the page's ``fetch`` answer every URL matching ``pattern``
    (a JavaScript regular expression's source) as the original Lair Chat answers a
    path it does not serve: 404, empty body. Run it in the live page, or before the
    page's own script (``before_page``), to see how the page treats a server without
    that route."""
    return f"""
const realFetch = window.fetch;
const unknown = new RegExp({json.dumps(pattern)});
window.fetch = (url, ...rest) => unknown.test(String(url))
  ? Promise.resolve(new Response(null, {{ status: 404 }}))
  : realFetch(url, ...rest);
"""
