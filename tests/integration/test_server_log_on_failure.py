"""A failed integration test's report shows what the servers logged during it
(tests/integration/conftest.py, :func:`lairchat.testing.logs_for_report`): CI keeps
no server's log, and a failure its rerun did not repeat (a fresh server's first
``register`` answered ``internal_error``) could not be explained."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lairchat.testing import ServerProcess, log_sizes, logs_for_report
from lairchat.testing_clients import TCPClient

pytest_plugins = ["pytester"]

CONFTEST = Path(__file__).with_name("conftest.py")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path_factory.mktemp("log-on-failure"))
    yield srv
    srv.stop()


def greeted(server: ServerProcess) -> None:
    """A connection, logged by the server before it greets it (``server_hello``,
    which ``connect`` reads), and closed: returns once the close is logged too, so
    that the log does not grow while the test reads it (a CI run read its last line
    before and after the close line came)."""

    def closes() -> int:
        return server.log_path.read_text(errors="replace").count("tcp connection closed")

    before = closes()
    TCPClient.connect(server.tcp_port).close()
    deadline = time.monotonic() + 10
    while closes() == before:
        assert time.monotonic() < deadline, "the server never logged the close"
        time.sleep(0.02)


def ours(server: ServerProcess, reports: list[tuple[str, str]]) -> list[str]:
    """The texts of ``reports`` about ``server``: other modules' servers may still run
    (CI's whole suite keeps session-wide ones), and report too."""
    return [text for title, text in reports if str(server.log_path) in title]


def test_the_report_has_each_servers_lines_since_the_test_began(server: ServerProcess) -> None:
    before = log_sizes()
    assert ours(server, logs_for_report(before)) == []  # nothing logged since
    greeted(server)
    (text,) = ours(server, logs_for_report(before))
    assert "tcp connection opened" in text and " ready: " not in text
    (whole,) = ours(server, logs_for_report({}))  # started during the test: from the start
    assert " ready: " in whole and "tcp connection opened" in whole
    (last,) = ours(server, logs_for_report({}, lines=1))
    assert last == whole.splitlines(keepends=True)[-1]


def test_a_failed_test_shows_the_log_and_a_passed_one_does_not(
    server: ServerProcess, pytester: pytest.Pytester
) -> None:
    pytester.makeconftest(CONFTEST.read_text())
    pytester.makepyfile(
        f"""
        from lairchat.testing_clients import TCPClient

        def connect():
            TCPClient.connect({server.tcp_port}).close()

        def test_passes():
            connect()

        def test_fails():
            connect()
            assert False
        """
    )
    outcome = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-p", "no:twisted")
    outcome.assert_outcomes(passed=1, failed=1)
    shown = outcome.stdout.str()
    assert shown.count(f"server log {server.log_path}") == 1
    assert "tcp connection opened" in shown
