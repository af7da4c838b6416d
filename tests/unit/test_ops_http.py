"""The HTTP port's operational side, in memory: a log line and metrics per request,
``/metrics`` and the listener-aware ``/ready``."""

from __future__ import annotations

from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from treq.testing import StubTreq
from twisted.internet import defer
from twisted.logger import capturedLogs, formatEvent, globalLogPublisher

from lairchat.observability.http import MetricsResource, ObservedRoot, ReadyResource
from lairchat.observability.metrics import Metrics
from lairchat.storage.sqlite.faults import StorageFault
from lairchat.transports.http.testing import ApiClient
from lairchat.transports.proxies import ProxyPolicy


class Ops:
    def __init__(self, trusted: tuple[str, ...] = ()):
        self.client = ApiClient()
        self.metrics = Metrics()
        self.up = {"tcp": True, "http": True}
        core = self.client.core
        root = self.client.api.resource()
        listeners = {name: (lambda name=name: self.up[name]) for name in self.up}
        root.putChild(b"metrics", MetricsResource(self.metrics))
        root.putChild(b"ready", ReadyResource(core.store, core.clock, listeners))
        self.metrics.watch(core, {"tcp": lambda: 3}, listeners)
        observed = ObservedRoot(root, core.clock, ProxyPolicy(trusted), self.metrics)
        self.client.stub = StubTreq(observed)

    def count(self, **labels: str) -> float | None:
        text = self.client.get("/metrics").body.decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "http_requests_total" and sample.labels == labels:
                    return sample.value
        return None


@pytest.fixture
def ops() -> Ops:
    return Ops()


@pytest.fixture
def events() -> Any:
    seen: list[dict] = []
    globalLogPublisher.addObserver(seen.append)
    yield seen
    globalLogPublisher.removeObserver(seen.append)


def request_lines(events: list[dict]) -> list[dict]:
    return [e for e in events if e.get("log_namespace", "").endswith("ObservedRoot")]


def test_one_log_line_per_request(ops: Ops, events: list[dict]) -> None:
    ops.client.get("/health")
    ops.client.get("/api/v1/rooms/0e5e0bfa-7b52-4c5c-9d62-4b7c27ac6f35?token=secret")
    ops.client.post("/api/v1/auth/login", {"identifier": "nobody", "password": "x" * 8})
    lines = request_lines(events)
    assert [(e["method"], e["route"], e["status"]) for e in lines] == [
        ("GET", "/health", 200),
        ("GET", "/api/v1/rooms/{room_id}", 401),
        ("POST", "/api/v1/auth/login", 401),
    ]
    assert all(e["client"] == "127.0.0.1" for e in lines)
    assert lines[1]["path"] == "/api/v1/rooms/0e5e0bfa-7b52-4c5c-9d62-4b7c27ac6f35"
    assert all(isinstance(e["duration"], float) for e in lines)


def test_probes_are_logged_at_debug_unless_they_fail(
    ops: Ops, events: list[dict], monkeypatch
) -> None:
    """A load balancer asking /health every 2 s wrote 43,200 lines a day at info."""
    ops.client.get("/health")
    ops.client.get("/ready")
    ops.client.get("/metrics")
    ops.client.get("/nowhere")
    monkeypatch.setattr(ops.client.core.store, "ping", lambda: defer.fail(StorageFault("disk")))
    ops.client.get("/ready")
    levels = [(e["route"], e["status"], e["log_level"].name) for e in request_lines(events)]
    assert levels == [
        ("/health", 200, "debug"),
        ("/ready", 200, "debug"),
        ("/metrics", 200, "debug"),
        ("unknown", 404, "info"),
        ("/ready", 503, "info"),
    ]


def test_unmatched_paths_count_as_unknown(ops: Ops) -> None:
    ops.client.get("/nowhere")
    ops.client.get("/nowhere/else")
    assert ops.count(method="GET", route="unknown", status="404") == 2


def test_metrics_answer_in_the_original_format(ops: Ops) -> None:
    ops.client.get("/health")
    reply = ops.client.get("/metrics")
    assert reply.status == 200
    assert reply.header("content-type") == "text/plain; version=0.0.4; charset=utf-8"
    # Not the original's `*` of every answer: a page on any site that a browser on
    # the monitoring network opened could read the figures.
    assert not any(h.startswith("access-control-") for h in reply.headers)
    text = reply.body.decode()
    for name in (
        "lair_chat_online_users",
        "lair_chat_total_users",
        "lair_chat_total_rooms",
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "lair_chat_connections",
    ):
        assert f"\n{name}" in text, name
    assert 'lair_chat_connections{transport="tcp"} 3.0' in text
    assert ops.count(method="GET", route="/health", status="200") == 1
    assert ops.count(method="GET", route="/metrics", status="200") >= 1


def test_metrics_refuse_other_methods_and_paths(ops: Ops) -> None:
    reply = ops.client.post("/metrics", {})
    assert (reply.status, reply.code, reply.header("allow")) == (
        405,
        "method_not_allowed",
        "GET, HEAD",
    )
    assert ops.client.get("/metrics/extra").status == 404


def test_metrics_still_answer_when_the_refresh_fails(ops: Ops, monkeypatch) -> None:
    monkeypatch.setattr(ops.client.core.store, "counts", lambda: defer.fail(OSError("disk")))
    reply = ops.client.get("/metrics")
    assert reply.status == 200
    assert b"http_requests_total" in reply.body


def test_ready_when_database_and_listeners_are_up(ops: Ops) -> None:
    reply = ops.client.get("/ready")
    assert (reply.status, reply.json) == (
        200,
        {
            "ready": True,
            "database": "connected",
            "listeners": {"tcp": "listening", "http": "listening"},
        },
    )


def test_not_ready_while_a_listener_is_down(ops: Ops) -> None:
    ops.up["tcp"] = False
    reply = ops.client.get("/ready")
    assert reply.status == 503
    assert reply.json["ready"] is False
    assert reply.json["database"] == "connected"
    assert reply.json["listeners"]["tcp"] == "down"


def test_not_ready_while_the_database_is_down(ops: Ops, monkeypatch) -> None:
    monkeypatch.setattr(ops.client.core.store, "ping", lambda: defer.fail(OSError("gone")))
    reply = ops.client.get("/ready")
    assert (reply.status, reply.json["database"]) == (503, "unavailable")


@pytest.mark.parametrize(
    ("error", "tracebacks"), [(StorageFault("disk I/O error"), 0), (OSError("bug"), 2)]
)
def test_a_storage_fault_is_logged_once_not_per_probe(
    ops: Ops, monkeypatch, error: Exception, tracebacks: int
) -> None:
    """The store logged the fault when it began; /ready and /metrics, asked every few
    seconds by a load balancer and a scraper, add no traceback each. Other failures do."""
    failing = lambda: defer.fail(error)  # noqa: E731
    monkeypatch.setattr(ops.client.core.store, "ping", failing)
    monkeypatch.setattr(ops.client.core.store, "counts", failing)
    with capturedLogs() as events:
        assert ops.client.get("/ready").status == 503
        assert ops.client.get("/metrics").status == 200
    assert len([e for e in events if e.get("log_failure")]) == tracebacks


def test_not_ready_when_the_database_hangs(ops: Ops, monkeypatch) -> None:
    monkeypatch.setattr(ops.client.core.store, "ping", defer.Deferred)
    d = ops.client.stub.get("http://lairchat.test/ready")
    ops.client.core.clock.advance(5)
    ops.client.stub.flush()
    assert d.result.code == 503


def test_a_hung_database_is_one_line_per_probe_not_a_traceback(ops: Ops, monkeypatch) -> None:
    monkeypatch.setattr(ops.client.core.store, "ping", defer.Deferred)
    with capturedLogs() as events:
        d = ops.client.stub.get("http://lairchat.test/ready")
        ops.client.core.clock.advance(5)
        ops.client.stub.flush()
    assert d.result.code == 503
    assert [e for e in events if e.get("log_failure")] == []
    assert "did not answer within 5.0 s" in " ".join(formatEvent(e) for e in events)


def test_forwarded_client_only_from_a_trusted_proxy(events: list[dict]) -> None:
    forged = {"X-Forwarded-For": "203.0.113.7"}
    Ops().client.get("/health", headers=forged)
    Ops(trusted=("127.0.0.1",)).client.get("/health", headers=forged)
    assert [e["client"] for e in request_lines(events)] == ["127.0.0.1", "203.0.113.7"]
