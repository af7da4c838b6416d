"""Start and stop: listeners that know their state, the stop order, the core's
orderly shutdown, readiness notifications, the log observer for twistd, and the
endpoints built from the settings."""

from __future__ import annotations

import socket
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from twisted.application import service
from twisted.internet import defer, task
from twisted.internet.endpoints import SSL4ServerEndpoint, TCP4ServerEndpoint
from twisted.internet.error import CannotListenError
from twisted.internet.testing import MemoryReactorClock
from twisted.logger import ILogObserver, capturedLogs, formatEvent
from twisted.python.components import Componentized

from lairchat import lifecycle
from lairchat.config import Config, ConfigError, load_config
from lairchat.core.retention import RetentionService
from lairchat.endpoints import TLSEndpoint, listener
from lairchat.lifecycle import CoreService, LairChatService, Listener, StartupError
from lairchat.observability.database import ObservedPool
from lairchat.proxyprotocol import ProxyHeaderEndpoint
from lairchat.service import _listen_setting, build_core, makeService
from lairchat.testing import make_core, result
from lairchat.tls import write_dev_certificate
from lairchat.transports.http.testing import FakeConnection

# -- fakes ------------------------------------------------------------------------------


class FakePort:
    def __init__(self, log: list[str], name: str):
        self.log, self.name = log, name

    def getHost(self) -> Any:  # noqa: N802
        from twisted.internet.address import IPv4Address

        return IPv4Address("TCP", "127.0.0.1", 8080)

    def stopListening(self) -> defer.Deferred:  # noqa: N802
        self.log.append(f"{self.name} stops")
        return defer.succeed(None)


class FakeEndpoint:
    def __init__(self, outcome: Any):
        self.outcome = outcome

    def listen(self, factory: Any) -> defer.Deferred:
        if isinstance(self.outcome, defer.Deferred):
            return self.outcome
        if isinstance(self.outcome, Exception):
            return defer.fail(self.outcome)
        return defer.succeed(self.outcome)


class Recording(service.Service):
    def __init__(self, log: list[str], name: str, wait: defer.Deferred | None = None):
        self.log, self.label, self.wait = log, name, wait

    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        self.log.append(f"{self.label} stops")
        return self.wait


# -- Listener ---------------------------------------------------------------------------


def test_listener_knows_whether_it_listens() -> None:
    log: list[str] = []
    lst = Listener("tcp", FakeEndpoint(FakePort(log, "tcp")), object(), "LAIR_TCP_PORT")
    assert not lst.listening
    waiting = lst.when_listening()
    lst.privilegedStartService()
    lst.startService()  # does not listen twice
    assert lst.listening and lst.address() == "127.0.0.1:8080"
    assert result(waiting) is lst.port
    result(defer.maybeDeferred(lst.stopService))
    assert not lst.listening and log == ["tcp stops"]


def test_failing_to_listen_at_start_is_a_startup_error() -> None:
    error = CannotListenError("127.0.0.1", 8080, OSError(98, "Address already in use"))
    lst = Listener("tcp", FakeEndpoint(error), object(), "LAIR_TCP_PORT")
    with pytest.raises(StartupError) as caught:
        lst.privilegedStartService()
    assert str(caught.value).startswith("LAIR_TCP_PORT: Couldn't listen on 127.0.0.1:8080")
    assert not lst.listening


@pytest.mark.parametrize("foreground", [True, False])
def test_a_listener_that_cannot_listen_stops_the_start(foreground: bool) -> None:
    """In the foreground with status 2, not StartupError's traceback through twistd:
    its critical line says it all. A daemon's child raises, for twistd to report
    to the parent waiting for it."""
    error = CannotListenError("127.0.0.1", 8080, OSError(98, "Address already in use"))
    top = LairChatService(task.Clock())
    top.foreground = foreground
    top.add_listener(Listener("tcp", FakeEndpoint(error), object(), "LAIR_TCP_PORT"))
    with pytest.raises(SystemExit if foreground else StartupError) as stopped:
        top.privilegedStartService()
    assert not foreground or stopped.value.code == 2


def test_a_late_failure_fails_the_waiters() -> None:
    pending: defer.Deferred = defer.Deferred()
    lst = Listener("http", FakeEndpoint(pending), object(), "LAIR_HTTP_ENDPOINT")
    lst.privilegedStartService()
    waiting = lst.when_listening()
    pending.errback(CannotListenError("", 80, OSError("no")))
    failures: list[Any] = []
    waiting.addErrback(failures.append)
    assert failures and not lst.listening
    lst.when_listening().addErrback(failures.append)
    assert len(failures) == 2


def test_stopping_before_listening_cancels() -> None:
    pending: defer.Deferred = defer.Deferred()
    lst = Listener("http", FakeEndpoint(pending), object(), "LAIR_HTTP_PORT")
    lst.privilegedStartService()
    assert lst.stopService() is None
    assert pending.called  # cancelled


# -- the top service ----------------------------------------------------------------------


@pytest.fixture
def notifications(monkeypatch: pytest.MonkeyPatch) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    name = "lairchat-unit-" + uuid.uuid4().hex
    sock.bind("\0" + name)
    sock.settimeout(5)
    monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    yield sock
    sock.close()


def test_ready_once_every_listener_listens(notifications: socket.socket) -> None:
    log: list[str] = []
    top = LairChatService(task.Clock())
    late: defer.Deferred = defer.Deferred()
    top.add_listener(Listener("tcp", FakeEndpoint(FakePort(log, "tcp")), None, "X"))
    top.add_listener(Listener("http", FakeEndpoint(late), None, "Y"))
    top.privilegedStartService()
    top.startService()
    notifications.settimeout(0)
    with pytest.raises(BlockingIOError):
        notifications.recv(1024)
    late.callback(FakePort(log, "http"))
    notifications.settimeout(5)
    message = notifications.recv(1024).decode().split("\n")
    assert message[0] == "READY=1"
    assert message[1].startswith("STATUS=Serving: tcp on 127.0.0.1:8080, http on")


def test_ready_only_once_the_reactor_runs(notifications: socket.socket) -> None:
    """READY=1 was sent as soon as the ports listened, which under twistd is before
    the reactor runs and installs its SIGTERM handler: a stop sent at once ended the
    server by the signal's default action (1 start in 6 in a loop of real ones)."""
    reactor = MemoryReactorClock()
    top = LairChatService(reactor)
    top.add_listener(Listener("tcp", FakeEndpoint(FakePort([], "tcp")), None, "X"))
    top.privilegedStartService()
    top.startService()
    notifications.settimeout(0)
    with pytest.raises(BlockingIOError):
        notifications.recv(1024)
    reactor.run()
    notifications.settimeout(5)
    assert notifications.recv(1024).decode().split("\n")[0] == "READY=1"


@pytest.mark.parametrize("freeze", [False, True])
def test_the_heap_is_frozen_once_ready_only_when_asked(
    notifications: socket.socket, monkeypatch: pytest.MonkeyPatch, freeze: bool
) -> None:
    frozen: list[str] = []
    monkeypatch.setattr(lifecycle.collector, "settle_heap", lambda: frozen.append("gc"))
    monkeypatch.setattr(lifecycle.allocator, "keep_freed_memory", lambda: frozen.append("malloc"))
    top = LairChatService(task.Clock())
    top.freeze_heap = freeze
    late: defer.Deferred = defer.Deferred()
    top.add_listener(Listener("tcp", FakeEndpoint(late), None, "X"))
    top.privilegedStartService()
    top.startService()
    assert frozen == []  # not before every listener listens
    late.callback(FakePort([], "tcp"))
    assert frozen == (["gc", "malloc"] if freeze else [])


def test_the_twistd_plugin_asks_for_a_frozen_heap(monkeypatch: pytest.MonkeyPatch) -> None:
    from twisted.plugins.lairchat_plugin import serviceMaker

    monkeypatch.setenv("LAIR_JWT_SECRET", "x" * 48)
    monkeypatch.setenv("LAIR_DATABASE_URL", "sqlite::memory:")
    options = serviceMaker.options()
    options.parseOptions([])
    assert serviceMaker.makeService(options).freeze_heap is True


def test_stop_order_listeners_first_then_the_rest_one_by_one(
    notifications: socket.socket,
) -> None:
    log: list[str] = []
    top = LairChatService(task.Clock())
    core_done: defer.Deferred = defer.Deferred()
    Recording(log, "core", core_done).setServiceParent(top)
    watcher_done: defer.Deferred = defer.Deferred()
    Recording(log, "watcher", watcher_done).setServiceParent(top)
    top.add_listener(Listener("tcp", FakeEndpoint(FakePort(log, "tcp")), None, "X"))
    top.add_listener(Listener("http", FakeEndpoint(FakePort(log, "http")), None, "Y"))
    # The refusal logs' open windows are logged once no listener can refuse more.
    top.refusals = (SimpleNamespace(flush=lambda: log.append("refusals logged")),)
    top.privilegedStartService()
    top.startService()
    assert notifications.recv(1024).startswith(b"READY=1")

    stopped = top.stopService()
    assert notifications.recv(1024).startswith(b"STOPPING=1")
    assert log == ["tcp stops", "http stops", "refusals logged", "watcher stops"]
    watcher_done.callback(None)
    assert log[-1] == "core stops"
    assert not stopped.called
    core_done.callback(None)
    assert stopped.called


def test_log_observer_goes_to_the_application() -> None:
    def observer(event: dict) -> None:
        pass

    application = service.Application("lairchat")
    top = LairChatService(task.Clock())
    top.log_observer = observer
    top.setServiceParent(application)
    assert Componentized.getComponent(application, ILogObserver) is observer

    # One set already (a .tac file, say) is left alone; no observer: nothing set.
    other = service.Application("lairchat")
    other.setComponent(ILogObserver, print)
    top2 = LairChatService(task.Clock())
    top2.log_observer = observer
    top2.setServiceParent(other)
    assert other.getComponent(ILogObserver) is print
    third = service.Application("lairchat")
    LairChatService(task.Clock()).setServiceParent(third)
    assert third.getComponent(ILogObserver) is None


# -- the core's shutdown ---------------------------------------------------------------------


class Store:
    """The real store of a test core, with close() recorded."""

    def __init__(self, inner: Any):
        self.inner, self.closed = inner, False

    def close(self) -> None:
        self.closed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


class Transport:
    def __init__(self) -> None:
        self.open: set[Any] = set()


class Proto:
    def __init__(self, transport: Transport):
        self.session = self
        self.transport = transport
        self.closed: list[str] = []
        transport.open.add(self)

    def close(self, reason: str, notice: object = None) -> None:
        self.closed.append(reason)


class HashPool:
    stopped = False

    def stop(self) -> None:
        self.stopped = True


class SlowPool:
    def __init__(self) -> None:
        self.pending: list[defer.Deferred] = []

    def runInteraction(self, fn: Any, *args: Any) -> defer.Deferred:  # noqa: N802
        d: defer.Deferred = defer.Deferred()
        self.pending.append(d)
        return d

    def close(self) -> None:
        pass


def test_core_stop_notices_closes_then_waits_for_writes() -> None:
    clock = task.Clock()
    core = make_core(clock=clock)
    store = Store(core.store)
    core.store = store
    registered = result(core.auth.register("alice", "alice@example.com", "password1"))
    alice = FakeConnection(registered.user.id, registered.session.id)
    core.hub.attach(alice)
    raw = SlowPool()
    writer = ObservedPool(raw, clock)
    hash_pool = HashPool()
    core_service = CoreService(core, None, hash_pool, (writer,), clock)
    transport = Transport()
    unauthenticated = Proto(transport)
    core_service.transports = (transport,)
    core_service.startService()
    in_flight = writer.runInteraction(lambda cur: None)

    stopped = core_service.stopService()
    notices = [e.payload for e in alice.events if e.type == "server_notice"]
    assert notices == [
        {"type": "server_notice", "message": "Server is shutting down", "severity": "warning"}
    ]
    assert alice.closed == []  # not before the notice is out: two reactor turns
    clock.advance(0)
    clock.advance(0)
    assert alice.closed == ["server shutting down"]
    assert unauthenticated.closed == ["server shutting down"]
    transport.open.clear()  # the connections finish closing
    clock.advance(1)
    assert not stopped.called and not store.closed  # a write is still in flight
    raw.pending[0].callback(None)
    assert result(in_flight) is None
    clock.advance(lifecycle.SETTLE_POLL)
    assert stopped.called and store.closed and hash_pool.stopped


def test_core_start_starts_the_message_writer() -> None:
    """The writer process starts with the server, not with the first message (whose
    sender would wait for an interpreter to start)."""

    class Writer:
        started = 0

        def start(self) -> None:
            self.started += 1

    writer = Writer()
    core = make_core(clock=task.Clock())
    core_service = CoreService(core, None, HashPool(), (), message_writer=writer)
    core_service.startService()
    assert writer.started == 1


def test_core_stop_aborts_connections_that_do_not_close() -> None:
    """A peer that never lets its connection close (no reads, no TLS handshake) is
    dropped before the stop's grace ends, so the stop is clean."""

    class Socket:
        def __init__(self, factory: Transport, proto: Proto) -> None:
            self.factory, self.proto, self.aborted = factory, proto, 0

        def abortConnection(self) -> None:  # noqa: N802 (Twisted's name)
            self.aborted += 1
            self.factory.open.discard(self.proto)

    clock = task.Clock()
    core = make_core(clock=clock)
    core.store = Store(core.store)
    core_service = CoreService(core, None, HashPool(), (), clock)
    factory = Transport()
    stuck = Proto(factory)
    stuck.transport = socket = Socket(factory, stuck)
    core_service.transports = (factory,)
    core_service.startService()
    with capturedLogs() as events:
        stopped = core_service.stopService()
        clock.pump([0, 0] + [lifecycle.SETTLE_POLL] * int(lifecycle.CLOSE_AT_STOP / 0.01 - 5))
        assert stuck.closed == ["server shutting down"]
        assert socket.aborted == 0 and not stopped.called
        clock.pump([lifecycle.SETTLE_POLL] * 10)
    assert socket.aborted == 1 and stopped.called
    assert lifecycle.CLOSE_AT_STOP < lifecycle.SHUTDOWN_GRACE
    texts = [formatEvent(e) for e in events]
    assert "aborting 1 connection(s) still closing after 3.0 s" in texts
    assert not [t for t in texts if "unfinished" in t]


def test_core_stop_gives_up_waiting_after_the_grace_period() -> None:
    clock = task.Clock()
    core = make_core(clock=clock)
    core.store = Store(core.store)
    writer = ObservedPool(SlowPool(), clock)
    core_service = CoreService(core, None, HashPool(), (writer,), clock)
    core_service.startService()
    writer.runInteraction(lambda cur: None)  # never answers
    stopped = core_service.stopService()
    clock.pump([0, 0] + [lifecycle.SETTLE_POLL] * int(lifecycle.SHUTDOWN_GRACE / 0.01 + 10))
    assert stopped.called and core.store.closed


# -- endpoints from the settings ---------------------------------------------------------------


@pytest.fixture
def tls_config(tmp_path: Path) -> Config:
    cert, key = write_dev_certificate(str(tmp_path))
    return Config(tls_cert_path=str(cert), tls_key_path=str(key), database_path=":memory:")


def test_plain_port_and_interface() -> None:
    reactor = MemoryReactorClock()
    endpoint = listener(Config(interface="127.0.0.1"), reactor, False, None, 8080, "X")
    assert isinstance(endpoint, TCP4ServerEndpoint)


def test_tls_settings_without_an_endpoint(tls_config: Config) -> None:
    endpoint = listener(tls_config, MemoryReactorClock(), True, None, 8443, "X")
    assert isinstance(endpoint, SSL4ServerEndpoint)


def test_tls_settings_wrap_an_explicit_endpoint(tls_config: Config, tmp_path: Path) -> None:
    sock = f"unix:{tmp_path / 'http.sock'}"
    endpoint = listener(tls_config, MemoryReactorClock(), True, sock, 0, "LAIR_HTTP_ENDPOINT")
    assert isinstance(endpoint, TLSEndpoint)


def test_later_start_errors_name_the_option_the_value_came_from(tmp_path: Path) -> None:
    """The TLS files, the database and the listeners are opened after the settings
    are read; their errors name --tls-cert, --database-url, --tcp-port when the
    value came from the command line, as the settings' own errors do."""
    missing = str(tmp_path / "missing.pem")
    given = {"tls_cert_path": "--tls-cert", "tls_key_path": "--tls-key"}
    config = Config(tls_cert_path=missing, tls_key_path=missing, sources=given)
    with pytest.raises(ConfigError, match="^--tls-cert: cannot read .*missing.pem"):
        listener(config, MemoryReactorClock(), True, None, 8443, "X")
    env_only = Config(tls_cert_path=missing, tls_key_path=missing)
    with pytest.raises(ConfigError, match="^LAIR_TLS_CERT_PATH: cannot read"):
        listener(env_only, MemoryReactorClock(), True, None, 8443, "X")

    garbage = tmp_path / "not-a.db"
    garbage.write_bytes(b"not a database, not at all" * 100)
    bad_db = Config(database_path=str(garbage), sources={"database_path": "--database-url"})
    with pytest.raises(StartupError, match="^--database-url: cannot open database"):
        build_core(bad_db, task.Clock())

    by_option = Config(tcp_endpoint="tcp:0", sources={"tcp_endpoint": "--tcp-endpoint"})
    assert _listen_setting(by_option, "tcp") == "--tcp-endpoint"
    assert _listen_setting(Config(sources={"http_port": "--http-port"}), "http") == "--http-port"
    assert _listen_setting(Config(), "tcp") == "LAIR_TCP_PORT"


def test_one_server_per_database(tmp_path: Path) -> None:
    """A second core on a database another server holds is a start error naming the
    lock; a start that failed holds no lock, so the next one is judged afresh."""
    config = Config(database_path=str(tmp_path / "chat.db"), jwt_secret="s" * 40)
    _, first = build_core(config, MemoryReactorClock())
    try:
        with pytest.raises(StartupError, match="another lairchat server is serving") as busy:
            build_core(config, MemoryReactorClock())
        assert "chat.db.server.lock" in str(busy.value)
    finally:
        first.serving_lock.release()
        first.database_lock.release()
    _, again = build_core(config, MemoryReactorClock())
    again.serving_lock.release()
    again.database_lock.release()

    garbage = tmp_path / "not-a.db"
    garbage.write_bytes(b"not a database" * 100)
    bad = Config(database_path=str(garbage))
    for _ in range(2):  # the same error twice: the failed start left no lock held
        with pytest.raises(StartupError, match="cannot open database"):
            build_core(bad, task.Clock())


def test_tls_settings_with_an_ssl_endpoint_are_refused(tls_config: Config) -> None:
    with pytest.raises(StartupError, match="^LAIR_HTTP_ENDPOINT: an ssl: endpoint"):
        listener(
            tls_config, MemoryReactorClock(), True, "ssl:8443:privateKey=k", 0, "LAIR_HTTP_ENDPOINT"
        )


def test_haproxy_prefix_reads_the_header_before_tls(tls_config: Config) -> None:
    reactor = MemoryReactorClock()
    plain = listener(Config(), reactor, False, "haproxy:tcp:9080:interface=127.0.0.1", 0, "X")
    assert isinstance(plain, ProxyHeaderEndpoint)
    assert isinstance(plain.endpoint, TCP4ServerEndpoint)
    secure = listener(tls_config, reactor, True, "haproxy:tcp:9080", 0, "X")
    assert isinstance(secure, TLSEndpoint)
    assert isinstance(secure.endpoint, ProxyHeaderEndpoint)


# -- the whole service -----------------------------------------------------------------------


def test_make_service_shape_and_an_enabled_rate_limiter() -> None:
    config = load_config(
        {}, {"LAIR_DATABASE_URL": "sqlite::memory:", "LAIR_TCP_PORT": "0", "LAIR_HTTP_PORT": "0"}
    )
    reactor = MemoryReactorClock()
    top = makeService(config, reactor)
    kinds = [(type(s).__name__, s.name) for s in top]
    assert kinds == [
        ("CoreService", None),
        ("SessionWatcher", None),
        ("RoleWatcher", None),
        ("DeletionWatcher", None),
        ("ExpiredSessionsService", None),
        ("Listener", "tcp"),
        ("Listener", "http"),
    ]
    # Regression: an empty limiter is falsy, and Core.build once replaced it.
    assert top.core.limiter.enabled is True
    top.privilegedStartService()
    top.startService()
    assert [lst.listening for lst in top.listeners] == [True, True]
    assert len(reactor.tcpServers) == 2


def test_make_service_prunes_messages_when_retention_is_on() -> None:
    environ = {"LAIR_DATABASE_URL": "sqlite::memory:", "LAIR_MESSAGE_RETENTION_DAYS": "30"}
    config = load_config({}, {**environ, "LAIR_TCP_PORT": "0", "LAIR_HTTP_PORT": "0"})
    top = makeService(config, MemoryReactorClock())
    (retention,) = [s for s in top if isinstance(s, RetentionService)]
    assert list(top).index(retention) < list(top).index(top.listeners[0])
    assert (retention.store, retention.days) == (top.core.store, 30)


@pytest.mark.parametrize(
    ("options", "umask"),
    [
        ({"nodaemon": False, "umask": None}, 0o077),  # twistd's default for a daemon
        ({"nodaemon": False, "umask": 0o027}, 0o027),
        ({"nodaemon": True, "umask": None}, None),  # the shell's umask stays
        ({"nodaemon": True, "umask": 0o002}, 0o002),
        (None, None),  # made outside twistd
        ({"reactor": None}, None),  # twist: always in the foreground
    ],
)
def test_the_umask_twistd_will_set_is_known_before_the_service_is_made(
    options: dict | None, umask: int | None
) -> None:
    assert lifecycle.twistd_umask(options) == umask


@pytest.mark.parametrize(
    ("options", "daemon", "rundir"),
    [
        ({"nodaemon": False, "rundir": "."}, True, "."),
        ({"nodaemon": True, "rundir": "/srv/chat"}, False, "/srv/chat"),
        ({"nodaemon": False, "rundir": "/x", "chroot": "/jail"}, True, None),
        ({"reactor": None}, False, None),  # twist
        (None, False, None),
    ],
)
def test_what_twistd_will_do_is_known_before_the_service_is_made(
    options: dict | None, daemon: bool, rundir: str | None
) -> None:
    assert lifecycle.twistd_daemon(options) is daemon
    assert lifecycle.twistd_rundir(options) == rundir
