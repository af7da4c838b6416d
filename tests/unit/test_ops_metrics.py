"""Metrics: the original's names, ours, scrape-time refresh; the timed pool and hub."""

from __future__ import annotations

from typing import Any

from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from twisted.internet import defer, task
from twisted.internet.address import IPv4Address

from lairchat.core.events import Event, EveryoneAudience
from lairchat.core.services import Core
from lairchat.observability.database import ObservedPool
from lairchat.observability.metrics import Metrics, TimedHub
from lairchat.testing import TEST_SECRET, make_core, result, run_now
from lairchat.transports.caps import LIMIT_REACHED, PER_ADDRESS_LIMIT, Refusals
from lairchat.transports.http.testing import FakeConnection


def samples(metrics: Metrics) -> dict[tuple[str, tuple], float]:
    text = metrics.exposition().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(metrics: Metrics, name: str, **labels: str) -> float | None:
    return samples(metrics).get((name, tuple(sorted(labels.items()))))


def test_own_registry_not_the_global_one() -> None:
    a, b = Metrics(), Metrics()
    a.http_request("GET", "/health", 200, 0.01)
    assert value(a, "http_requests_total", method="GET", route="/health", status="200") == 1
    assert value(b, "http_requests_total", method="GET", route="/health", status="200") is None
    assert REGISTRY.get_sample_value("lair_chat_online_users") is None


def test_http_request_labels_and_histogram() -> None:
    metrics = Metrics()
    metrics.http_request("POST", "/api/v1/rooms", 201, 0.003)
    metrics.http_request("BREW", "unknown", 405, 0.001)  # invented methods: one label
    metrics.http_request("PROPFIND", "unknown", 405, 0.001)
    assert value(metrics, "http_requests_total", method="POST", route="/api/v1/rooms", status="201")
    assert value(metrics, "http_requests_total", method="OTHER", route="unknown", status="405") == 2
    count = value(
        metrics,
        "http_request_duration_seconds_count",
        method="POST",
        route="/api/v1/rooms",
        status="201",
    )
    assert count == 1


def connect(core: Core, name: str) -> FakeConnection:
    registered = result(core.auth.register(name, f"{name}@example.com", "password1"))
    connection = FakeConnection(registered.user.id, registered.session.id)
    core.hub.attach(connection)
    return connection


def test_refresh_reads_the_core_at_scrape_time() -> None:
    metrics = Metrics()
    hub = TimedHub(metrics.fanout_duration)
    core = make_core()
    core = Core.build(core.store, core.clock, TEST_SECRET, run_now, hub=hub)
    open_tcp = {"a", "b"}
    up = {"tcp": True, "http": False}
    metrics.watch(
        core,
        {"tcp": lambda: len(open_tcp), "websocket": lambda: 0},
        {name: (lambda name=name: up[name]) for name in up},
    )
    alice = connect(core, "alice")
    connect(core, "bob")
    room = result(core.rooms.create(_user(core, alice.user_id), "ops", None, None))
    result(core.messages.send(_user(core, alice.user_id), _room_target(room.id), "hi"))
    result(metrics.refresh())
    assert value(metrics, "lair_chat_online_users") == 2
    assert value(metrics, "lair_chat_total_users") == 2
    assert value(metrics, "lair_chat_total_rooms") == 1
    assert value(metrics, "lair_chat_total_messages") == 1
    assert value(metrics, "lair_chat_connections", transport="tcp") == 2
    assert value(metrics, "lair_chat_connections", transport="websocket") == 0
    assert value(metrics, "lair_chat_listener_up", listener="tcp") == 1
    assert value(metrics, "lair_chat_listener_up", listener="http") == 0
    assert value(metrics, "lair_chat_messages_accepted_total") == 1
    assert value(metrics, "lair_chat_event_deliveries_total") == core.hub.deliveries > 0
    assert value(metrics, "lair_chat_senders_paused_total") == 0
    core.hub.senders_paused = 3
    assert value(metrics, "lair_chat_senders_paused_total") == 3
    assert value(metrics, "lair_chat_password_checks_refused_total") == 0
    core.auth.passwords.refused = 2
    assert value(metrics, "lair_chat_password_checks_refused_total") == 2
    fanouts = value(metrics, "lair_chat_event_fanout_duration_seconds_count")
    assert fanouts is not None and fanouts >= 2  # user_online, message_received, ...
    assert value(metrics, "process_open_fds") is not None


def _user(core: Core, user_id: str) -> Any:
    return result(core.store.get_user(user_id))


def _room_target(room_id: str) -> Any:
    from lairchat.domain.types import Target

    return Target("room", room_id)


def test_timed_hub_observes_each_publish() -> None:
    metrics = Metrics()
    ticks = iter([1.0, 1.25, 2.0, 2.5])
    hub = TimedHub(metrics.fanout_duration, timer=lambda: next(ticks))
    hub.publish(Event({"type": "server_notice"}, EveryoneAudience()))
    hub.publish(Event({"type": "server_notice"}, EveryoneAudience()))
    assert value(metrics, "lair_chat_event_fanout_duration_seconds_count") == 2
    assert value(metrics, "lair_chat_event_fanout_duration_seconds_sum") == 0.75


# -- the observed pool ------------------------------------------------------------------


class FakePool:
    def __init__(self) -> None:
        self.calls: list[defer.Deferred] = []
        self.closed = False

    def runInteraction(self, fn: Any, *args: Any) -> defer.Deferred:  # noqa: N802
        d: defer.Deferred = defer.Deferred()
        self.calls.append(d)
        return d

    def close(self) -> None:
        self.closed = True


def test_observed_pool_times_and_counts_in_flight() -> None:
    clock = task.Clock()
    seen: list[float] = []
    raw = FakePool()
    pool = ObservedPool(raw, clock, seen.append)
    first = pool.runInteraction(lambda cur: None)
    assert (pool.in_flight, pool.idle) == (1, False)
    clock.advance(0.5)
    raw.calls[0].callback("done")
    assert result(first) == "done"
    assert (pool.in_flight, pool.idle, seen) == (0, True, [0.5])
    failing = pool.runInteraction(lambda cur: None)
    raw.calls[1].errback(RuntimeError("disk"))
    assert pool.idle
    failures: list[Any] = []
    failing.addErrback(failures.append)
    assert failures[0].check(RuntimeError)
    pool.close()
    assert raw.closed


def test_observed_pool_never_looks_idle_between_chained_transactions() -> None:
    """The store starts its next group commit from the previous one's callback: the
    count must not touch zero in between (a shutdown would stop waiting)."""
    raw = FakePool()
    pool = ObservedPool(raw, task.Clock())
    observed: list[int] = []

    def next_batch(_: Any) -> None:
        observed.append(pool.in_flight)
        pool.runInteraction(lambda cur: None)
        observed.append(pool.in_flight)

    pool.runInteraction(lambda cur: None).addCallback(next_batch)
    raw.calls[0].callback(None)
    assert observed == [1, 2]
    assert pool.in_flight == 1
    raw.calls[1].callback(None)
    assert pool.idle


def test_refused_connections_by_listener_and_reason() -> None:
    metrics = Metrics()
    clock = task.Clock()
    tcp, http = Refusals("tcp", clock), Refusals("http", clock)
    metrics.watch(make_core(), {}, {}, {"tcp": tcp, "http": http})
    assert (
        value(metrics, "lair_chat_connections_refused_total", listener="tcp", reason=LIMIT_REACHED)
        == 0
    )
    addr = IPv4Address("TCP", "10.0.0.1", 1)
    for _ in range(3):
        tcp.refused(addr, LIMIT_REACHED)
    http.refused(addr, PER_ADDRESS_LIMIT)
    assert (
        value(metrics, "lair_chat_connections_refused_total", listener="tcp", reason=LIMIT_REACHED)
        == 3
    )
    assert (
        value(
            metrics, "lair_chat_connections_refused_total", listener="tcp", reason=PER_ADDRESS_LIMIT
        )
        == 0
    )
    assert (
        value(
            metrics,
            "lair_chat_connections_refused_total",
            listener="http",
            reason=PER_ADDRESS_LIMIT,
        )
        == 1
    )
    clock.advance(Refusals.WINDOW)  # the log window ends; the totals stay
    assert (
        value(metrics, "lair_chat_connections_refused_total", listener="tcp", reason=LIMIT_REACHED)
        == 3
    )
