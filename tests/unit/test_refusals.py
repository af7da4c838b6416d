"""Refused connections are logged without a log line per connection (caps.Refusals)."""

from __future__ import annotations

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.logger import capturedLogs, formatEvent
from twisted.web.resource import Resource

from lairchat.testing import MemoryTCPServer
from lairchat.transports.caps import Refusals, Refused
from lairchat.transports.http.site import make_site


def warnings(events: list[dict]) -> list[str]:
    return [formatEvent(e) for e in events if e["log_level"].name == "warn"]


def test_first_refusal_is_logged_the_rest_counted_until_the_window_ends() -> None:
    clock = Clock()
    refusals = Refusals("tcp", clock)
    with capturedLogs() as events:
        for port in range(1, 101):
            refusals.refused(IPv4Address("TCP", "10.0.0.1", port), "limit reached")
        assert warnings(events) == [
            "tcp connection from IPv4Address(type='TCP', host='10.0.0.1', port=1) "
            "refused: limit reached"
        ]
        clock.advance(Refusals.WINDOW)
        assert warnings(events)[1:] == [
            "99 more tcp connections refused in 10 s: limit reached (99 from 10.0.0.1)"
        ]
        # A new window: the next refusal is logged with its address again.
        refusals.refused(IPv4Address("TCP", "10.0.0.2", 7), "limit reached")
        assert "10.0.0.2" in warnings(events)[2]
        clock.advance(Refusals.WINDOW)
        assert len(warnings(events)) == 3  # nothing held: no summary line


def test_the_summary_names_the_address_refused_most() -> None:
    clock = Clock()
    refusals = Refusals("tcp", clock)
    refusals.MAX_ADDRESSES = 2  # a third address is counted under "(others)"
    hosts = ["10.0.0.1", "10.0.0.2", "10.0.0.2", "10.0.0.3", "10.0.0.3", "10.0.0.3"]
    hosts += ["10.0.0.4"] * 4 + ["10.0.0.5"]
    with capturedLogs() as events:
        for port, host in enumerate(hosts, 1):
            refusals.refused(IPv4Address("TCP", host, port), "limit reached")
        clock.advance(Refusals.WINDOW)
    # 10.0.0.1 was logged on its own; 10.0.0.2 and 10.0.0.3 fill the table, so
    # 10.0.0.4 and 10.0.0.5 are counted together.
    assert warnings(events)[1:] == [
        "10 more tcp connections refused in 10 s: limit reached (5 from (others))"
    ]
    assert refusals._held == {}


def test_reasons_are_windowed_apart() -> None:
    clock = Clock()
    refusals = Refusals("http", clock)
    addr = IPv4Address("TCP", "10.0.0.1", 1)
    with capturedLogs() as events:
        refusals.refused(addr, "limit reached")
        refusals.refused(addr, "per-address limit")
        refusals.refused(addr, "per-address limit")
        assert len(warnings(events)) == 2
        clock.advance(Refusals.WINDOW)
        assert warnings(events)[2:] == [
            "1 more http connections refused in 10 s: per-address limit (1 from 10.0.0.1)"
        ]


def test_a_flood_past_the_tcp_cap_logs_two_lines() -> None:
    server = MemoryTCPServer(max_connections=1)
    server.connect()
    with capturedLogs() as events:
        for port in range(1, 1001):
            server.factory.buildProtocol(IPv4Address("TCP", "127.0.0.1", port))
        server.clock.advance(Refusals.WINDOW)
    lines = warnings(events)
    assert len(lines) == 2, lines
    assert (
        lines[1] == "999 more tcp connections refused in 10 s: limit reached (999 from 127.0.0.1)"
    )


def test_a_flood_past_the_http_cap_logs_two_lines() -> None:
    clock = Clock()
    site = make_site(Resource(), clock, max_connections=1)
    site.buildProtocol(IPv4Address("TCP", "127.0.0.1", 1))
    with capturedLogs() as events:
        for port in range(2, 502):
            assert isinstance(site.buildProtocol(IPv4Address("TCP", "127.0.0.1", port)), Refused)
        clock.advance(Refusals.WINDOW)
    assert warnings(events)[1:] == [
        "499 more http connections refused in 10 s: limit reached (499 from 127.0.0.1)"
    ]


def test_flush_logs_open_windows_at_once_and_ends_them() -> None:
    """At shutdown: the window's timer would never run, and its count would be lost."""
    clock = Clock()
    refusals = Refusals("tcp", clock)
    addr = IPv4Address("TCP", "10.0.0.1", 1)
    with capturedLogs() as events:
        for _ in range(5):
            refusals.refused(addr, "limit reached")
        refusals.refused(addr, "per-address limit")  # alone in its window: nothing held
        clock.advance(3)
        refusals.flush()
        assert warnings(events)[2:] == [
            "4 more tcp connections refused in 3 s: limit reached (4 from 10.0.0.1)"
        ]
        assert clock.getDelayedCalls() == []
        refusals.flush()  # nothing open: nothing logged
        refusals.refused(addr, "limit reached")  # a new window, logged on its own
        assert len(warnings(events)) == 4 and "10.0.0.1" in warnings(events)[3]
    assert refusals.totals == {"limit reached": 6, "per-address limit": 1}
