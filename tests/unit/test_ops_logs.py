"""Log output: JSON lines, text, level filtering, and where twistd would write."""

from __future__ import annotations

import io
import json
import signal
import sys
from pathlib import Path

import pytest
from twisted.internet.testing import StringTransport
from twisted.logger import Logger, LogLevel, LogPublisher, globalLogPublisher
from twisted.python import log as legacy
from twisted.python.failure import Failure

from lairchat.observability import logs
from lairchat.transports.http.site import _Channel


def emit(observer, level: LogLevel, fmt: str, **fields) -> None:
    publisher = LogPublisher(observer)
    Logger(namespace="lairchat.test", observer=publisher).emit(level, fmt, **fields)


def test_json_line_has_the_fields_and_the_formatted_message() -> None:
    out = io.StringIO()
    emit(
        logs.make_observer(out, "json"),
        LogLevel.info,
        '{client} "{method} {path}" {status}',
        client="203.0.113.9",
        method="GET",
        path="/health",
        status=200,
        peer=object(),  # not plain: left out
    )
    line = out.getvalue()
    assert line.endswith("\n") and line.count("\n") == 1
    record = json.loads(line)
    assert record["message"] == '203.0.113.9 "GET /health" 200'
    assert record["level"] == "info"
    assert record["namespace"] == "lairchat.test"
    assert record["time"].endswith("Z") and "T" in record["time"]
    assert (record["client"], record["method"], record["status"]) == ("203.0.113.9", "GET", 200)
    assert "peer" not in record
    assert not any(key.startswith("log_") for key in record)


def test_json_line_keeps_its_own_keys_and_adds_the_traceback() -> None:
    out = io.StringIO()
    failure = Failure(ZeroDivisionError("division by zero"))
    publisher = LogPublisher(logs.make_observer(out, "json"))
    Logger(namespace="x", observer=publisher).failure(
        "it broke at {time}: {message}", failure, message="not the message", time="noon"
    )
    record = json.loads(out.getvalue())
    assert record["message"] == "it broke at noon: not the message"
    assert record["time"].endswith("Z")
    assert record["level"] == "critical"
    assert "ZeroDivisionError" in record["traceback"]


def test_json_line_for_a_legacy_event() -> None:
    out = io.StringIO()
    observer = logs.make_observer(out, "json")
    globalLogPublisher.addObserver(observer)
    try:
        legacy.msg("Site starting on 8082")
    finally:
        globalLogPublisher.removeObserver(observer)
    record = json.loads(out.getvalue().splitlines()[-1])
    assert record["message"] == "Site starting on 8082"
    assert record["level"] == "info"


def test_text_format_is_twisteds_classic_line() -> None:
    out = io.StringIO()
    emit(logs.make_observer(out, "text"), LogLevel.info, "hello {who}", who="ops")
    assert out.getvalue().rstrip().endswith("[lairchat.test#info] hello ops")


@pytest.mark.parametrize(
    ("level", "kept"),
    [
        ("debug", ["debug", "info", "warn", "error"]),
        ("info", ["info", "warn", "error"]),
        ("warning", ["warn", "error"]),
        ("error", ["error"]),
        ("critical", []),
    ],
)
def test_level_filter(level: str, kept: list[str]) -> None:
    out = io.StringIO()
    observer = logs.make_observer(out, "json", level)
    for name in ("debug", "info", "warn", "error"):
        emit(observer, LogLevel.levelWithName(name), name)
    assert [json.loads(line)["level"] for line in out.getvalue().splitlines()] == kept


def test_idle_http_connections_timing_out_are_not_logged_at_info() -> None:
    """Twisted's HTTP channel logs "Timing out client" at info for every kept-alive
    connection idle for a minute: a line per browser tab per minute. Shown from
    debug; its warnings, and other info lines, as before."""
    for level, shown in (("info", False), ("debug", True)):
        out = io.StringIO()
        publisher = LogPublisher(logs.make_observer(out, "text", level))
        channel = _Channel()
        channel._log = Logger(namespace=channel._log.namespace, observer=publisher)
        channel.callLater = lambda *a, **k: None
        channel.makeConnection(StringTransport())
        channel.timeoutConnection()
        assert ("Timing out client" in out.getvalue()) is shown
        channel._log.warn("a warning")
        emit(logs.make_observer(out, "text", level), LogLevel.info, "other info")
        assert "a warning" in out.getvalue() and "other info" in out.getvalue()


# -- where twistd would write ---------------------------------------------------------


def test_foreground_without_logfile_is_stdout() -> None:
    assert logs.twistd_log_file({"nodaemon": True, "logfile": None}) is sys.stdout
    assert logs.twistd_log_file({"nodaemon": True, "logfile": "-"}) is sys.stdout


def test_twistd_decides_for_syslog_logger_and_a_daemon_on_stdout() -> None:
    assert logs.twistd_log_file({"nodaemon": True, "syslog": True}) is None
    assert logs.twistd_log_file({"nodaemon": True, "logger": object()}) is None
    assert logs.twistd_log_file({"nodaemon": False, "logfile": "-"}) is None


def test_logfile_is_opened_and_sigusr1_rotates_it(tmp_path: Path, monkeypatch) -> None:
    previous = signal.getsignal(signal.SIGUSR1)
    signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    try:
        out = logs.twistd_log_file({"nodaemon": False, "logfile": str(tmp_path / "x.log")})
        assert out is not None
        out.write("line\n")
        out.flush()
        assert (tmp_path / "x.log").read_text() == "line\n"
        assert callable(signal.getsignal(signal.SIGUSR1))
        out.close()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_daemon_default_logfile_is_twistd_log(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    previous = signal.getsignal(signal.SIGUSR1)
    try:
        out = logs.twistd_log_file({"nodaemon": False, "logfile": None})
        assert out is not None
        out.close()
        assert (tmp_path / "twistd.log").exists()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_observer_only_under_twistd() -> None:
    assert logs.observer_for_twistd(None, "json", "info") is None
    # The `twist` runner's options have no "nodaemon".
    assert logs.observer_for_twistd({"log-format": "text"}, "json", "info") is None
    assert logs.observer_for_twistd({"nodaemon": True}, "json", "info") is not None
