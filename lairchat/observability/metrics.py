"""Prometheus metrics on a registry of their own (prometheus-client's global one stays
untouched, so two servers in one process, e.g. in tests, never mix their numbers).

The original's names come first (HTTP.md §8): ``lair_chat_online_users``,
``lair_chat_total_users`` and ``lair_chat_total_rooms`` refreshed on each scrape,
``http_requests_total{method,route,status}`` and
``http_request_duration_seconds{method,route,status}`` (a histogram here; the
original's exporter renders a summary). The rest is ours, named ``lair_chat_*``;
docs/operations.md lists every one.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily
from prometheus_client.registry import Collector
from twisted.internet import defer

from lairchat.core.hub import Hub
from lairchat.transports.caps import REASONS, Refusals

#: What ``/metrics`` answers with (the text format the original serves).
CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

#: HTTP handlers: from a cached lookup to a password hash.
HTTP_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
#: One database transaction, queueing for the pool's thread included.
DB_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
#: Publishing one event to every recipient (encode once, write to each): fast.
FANOUT_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005,
                  0.01, 0.025, 0.1)  # fmt: skip

#: Label values for methods outside this set are "OTHER": a client must not be able to
#: invent new time series.
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """Every instrument of one server."""

    def __init__(self, registry: CollectorRegistry | None = None):
        r = self.registry = registry if registry is not None else CollectorRegistry()
        # -- the original's ------------------------------------------------------------
        self.online_users = Gauge(
            "lair_chat_online_users",
            "Users with at least one authenticated real-time connection.",
            registry=r,
        )
        self.total_users = Gauge("lair_chat_total_users", "Registered users.", registry=r)
        self.total_rooms = Gauge("lair_chat_total_rooms", "Rooms.", registry=r)
        self.http_requests = Counter(
            "http_requests",
            "HTTP requests answered, by method, matched route template and status.",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_duration = Histogram(
            "http_request_duration_seconds",
            "Time from a complete HTTP request to its finished response.",
            ["method", "route", "status"],
            buckets=HTTP_BUCKETS,
            registry=r,
        )
        # -- ours ------------------------------------------------------------------------
        self.total_messages = Gauge("lair_chat_total_messages", "Stored messages.", registry=r)
        self.connections = Gauge(
            "lair_chat_connections",
            "Open real-time connections (authenticated or not), by transport.",
            ["transport"],
            registry=r,
        )
        self.listener_up = Gauge(
            "lair_chat_listener_up",
            "1 while the listener accepts connections, else 0.",
            ["listener"],
            registry=r,
        )
        self.db_duration = Histogram(
            "lair_chat_db_transaction_duration_seconds",
            "One database transaction, from the call to its result (waiting for the "
            "pool's thread included), by pool.",
            ["pool"],
            buckets=DB_BUCKETS,
            registry=r,
        )
        self.fanout_duration = Histogram(
            "lair_chat_event_fanout_duration_seconds",
            "Delivering one event, or one group commit's events, to every recipient connection.",
            buckets=FANOUT_BUCKETS,
            registry=r,
        )
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        self._sources: _Sources | None = None

    # -- HTTP --------------------------------------------------------------------------

    def http_request(self, method: str, route: str, status: int, seconds: float) -> None:
        labels = (method if method in HTTP_METHODS else "OTHER", route, str(status))
        self.http_requests.labels(*labels).inc()
        self.http_duration.labels(*labels).observe(seconds)

    # -- the server's state, read on each scrape -------------------------------------

    def certificate_expiry(self, not_after: Callable[[], float]) -> None:
        """Export when the TLS certificate in use expires (only with TLS on: a gauge
        at 0 would read as a certificate expired in 1970)."""
        Gauge(
            "lair_chat_tls_certificate_expiry_timestamp_seconds",
            "When the TLS certificate served to new connections expires (Unix time).",
            registry=self.registry,
        ).set_function(not_after)

    def watch(
        self,
        core: Any,
        connections: Mapping[str, Callable[[], int]],
        listeners: Mapping[str, Callable[[], bool]],
        refusals: Mapping[str, Refusals] | None = None,
    ) -> None:
        """Read ``core`` (store counts, hub, counters), the open connections per
        transport and whether each listener is up, at every :meth:`refresh`; and the
        connections each listener refused at its caps, when scraped."""
        self._sources = _Sources(core, dict(connections), dict(listeners))
        self.registry.register(_CoreCounters(core))
        self.registry.register(_RefusalCounters(dict(refusals or {})))

    @defer.inlineCallbacks
    def refresh(self) -> Any:
        """Bring the scrape-time gauges up to date (one read transaction)."""
        sources = self._sources
        if sources is None:
            return
        for transport, count in sources.connections.items():
            self.connections.labels(transport).set(count())
        for name, up in sources.listeners.items():
            self.listener_up.labels(name).set(1 if up() else 0)
        hub = sources.core.hub
        self.online_users.set(len(hub.online_user_ids()))
        counts = yield sources.core.store.counts()
        self.total_users.set(counts["users"])
        self.total_rooms.set(counts["rooms"])
        self.total_messages.set(counts["messages"])

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _Sources:
    def __init__(self, core: Any, connections: dict, listeners: dict):
        self.core = core
        self.connections = connections
        self.listeners = listeners


class _CoreCounters(Collector):
    """Counters the core keeps as plain integers, read when scraped."""

    def __init__(self, core: Any):
        self.core = core

    def collect(self) -> Iterator[CounterMetricFamily]:
        yield CounterMetricFamily(
            "lair_chat_messages_accepted",
            "Messages accepted (stored and acknowledged) since start, every transport.",
            value=self.core.messages.accepted,
        )
        yield CounterMetricFamily(
            "lair_chat_event_deliveries",
            "Events handed to real-time connections since start.",
            value=self.core.hub.deliveries,
        )
        yield CounterMetricFamily(
            "lair_chat_senders_paused",
            "Times a sender's connection stopped being read because most of the room "
            "it sent to was behind (back-pressure).",
            value=self.core.hub.senders_paused,
        )
        yield CounterMetricFamily(
            "lair_chat_password_checks_refused",
            "Logins and registrations refused (429) because the password hashers "
            "were too far behind (LAIR_PASSWORD_WAIT).",
            value=self.core.auth.passwords.refused,
        )


class _RefusalCounters(Collector):
    """Connections refused at a connection cap, by listener and reason (every pair
    exported from the start, at 0, so that a rate can be taken at once)."""

    def __init__(self, refusals: dict[str, Refusals]):
        self.refusals = refusals

    def collect(self) -> Iterator[CounterMetricFamily]:
        family = CounterMetricFamily(
            "lair_chat_connections_refused",
            "Connections closed at once because a connection cap was reached, by "
            "listener and reason (the total cap, or the cap per peer address).",
            labels=["listener", "reason"],
        )
        for listener, refusals in self.refusals.items():
            for reason in REASONS:
                family.add_metric([listener, reason], refusals.totals[reason])
        yield family


class TimedHub(Hub):
    """The hub, with the time of each fan-out (an event, or a batch of them) observed
    (pass it to ``Core.build``)."""

    def __init__(self, histogram: Histogram, timer: Callable[[], float] = time.perf_counter):
        super().__init__()
        self._fanout = histogram
        self._timer = timer

    def deliver(self, events: list[Any]) -> int:
        started = self._timer()
        try:
            return super().deliver(events)
        finally:
            self._fanout.observe(self._timer() - started)
