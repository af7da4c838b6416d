"""``makeService``: the one place where lairchat is wired together.

Storage, the core, the real-time session settings and every listener are built
here from a :class:`lairchat.config.Config`, under one ``MultiService`` so that
``twistd`` starts and stops them as a whole.
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
from typing import Any

from twisted.application import service
from twisted.application.internet import StreamServerEndpointService
from twisted.internet import defer, threads
from twisted.internet.endpoints import SSL4ServerEndpoint, serverFromString
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool

from lairchat.config import Config, ConfigError
from lairchat.core.ratelimit import RateLimiter
from lairchat.core.services import Core
from lairchat.realtime.session import SessionSettings
from lairchat.storage.sqlite import migrate, pool
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.tls import server_context
from lairchat.transports.proxies import ProxyPolicy
from lairchat.transports.tcp import LairTCPFactory

log = Logger()

#: Password hashing is CPU-bound: a small dedicated pool keeps a login storm from
#: starving the database threads or the reactor.
HASH_THREADS = 2


class StartupError(ConfigError):
    """The server cannot start; the message is one line for the operator."""


def open_database(path: str) -> tuple[str, sqlite3.Connection]:
    """Migrate the database and return ``(connect_path, keeper)``.

    ``keeper`` is a connection held for the server's lifetime: for ``:memory:`` it
    is what keeps the shared in-memory database alive.
    """
    if path == ":memory:":
        path = f"file:lairchat-{uuid.uuid4().hex}?mode=memory&cache=shared"
    try:
        keeper = sqlite3.connect(path, uri=path.startswith("file:"), check_same_thread=False)
        pool.configure_connection(keeper)
        migrate.migrate(keeper)
    except migrate.SchemaTooNew as e:
        raise StartupError(f"LAIR_DATABASE_URL: {e}") from None
    except sqlite3.Error as e:
        raise StartupError(f"LAIR_DATABASE_URL: cannot open database {path!r}: {e}") from None
    return path, keeper


class CoreService(service.Service):
    """Owns the database pools, the hashing threads and the core's lifecycle."""

    def __init__(self, core: Core, keeper: sqlite3.Connection, hash_pool: ThreadPool):
        self.core = core
        self.keeper = keeper
        self.hash_pool = hash_pool

    def startService(self) -> None:  # noqa: N802
        super().startService()
        self.hash_pool.start()

    @defer.inlineCallbacks
    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        hub = self.core.hub
        self.core.admin.notice("Server is shutting down", "warning")
        for user_id in hub.online_user_ids():
            hub.close_user(user_id, "server shutting down")
        # Let in-flight writes (queued behind the single writer) finish first.
        yield self.core.store.ping()
        self.core.store.close()
        self.hash_pool.stop()
        self.keeper.close()


def endpoint(explicit: str | None, port: int, interface: str) -> str:
    if explicit:
        return explicit
    return f"tcp:{port}:interface={interface}"


def listener(
    config: Config, reactor: Any, tls: bool, explicit: str | None, port: int, setting: str
) -> Any:
    """A listening endpoint: an explicit endpoint description, or TLS or plain TCP on
    ``port`` at the configured interface."""
    if tls:
        if explicit:
            raise StartupError(
                f"{setting}: use an ssl: endpoint instead of the LAIR_TLS_* settings"
            )
        context = server_context(config.tls_cert_path, config.tls_key_path)
        return SSL4ServerEndpoint(reactor, port, context, interface=config.interface)
    return serverFromString(reactor, endpoint(explicit, port, config.interface))


def http_listener(config: Config, reactor: Any) -> Any:
    """The HTTP port: HTTPS (and so WSS) when TLS is enabled."""
    return listener(
        config,
        reactor,
        config.tls_enabled,
        config.http_endpoint,
        config.http_port,
        "LAIR_HTTP_ENDPOINT",
    )


def tcp_listener(config: Config, reactor: Any) -> Any:
    """The real-time TCP port: TLS only with LAIR_TCP_TLS (the original never had it)."""
    return listener(
        config, reactor, config.tcp_tls, config.tcp_endpoint, config.tcp_port, "LAIR_TCP_ENDPOINT"
    )


def build_core(config: Config, reactor: Any) -> tuple[Core, CoreService]:
    path, keeper = open_database(config.database_path)
    writer, reader = pool.open_pools(path, reactor)
    store = SQLiteStore(writer, reader, config.database_path)
    hash_pool = ThreadPool(minthreads=0, maxthreads=HASH_THREADS, name="lairchat-argon2")
    run_blocking = functools.partial(threads.deferToThreadPool, reactor, hash_pool)
    limiter = RateLimiter(reactor, enabled=config.rate_limits)
    core = Core.build(store, reactor, config.jwt_secret, run_blocking, limiter=limiter)
    # The hub's indexes are loaded synchronously before the reactor runs.
    memberships = keeper.execute("SELECT room_id, user_id FROM room_memberships").fetchall()
    names = dict(keeper.execute("SELECT id, username FROM users").fetchall())
    core.hub.load(memberships, names)
    return core, CoreService(core, keeper, hash_pool)


def makeService(config: Config, reactor: Any = None) -> service.MultiService:  # noqa: N802
    if reactor is None:
        from twisted.internet import reactor
    from lairchat.transports.http.app import HttpApi
    from lairchat.transports.http.ratelimit import HttpRateLimiter
    from lairchat.transports.websocket import make_ws_resource

    top = service.MultiService()
    core, core_service = build_core(config, reactor)
    core_service.setServiceParent(top)

    tcp = LairTCPFactory(
        core, SessionSettings.from_config(config, "tcp"), reactor, config.tcp_max_connections
    )
    StreamServerEndpointService(tcp_listener(config, reactor), tcp).setServiceParent(top)

    api = HttpApi(core, config)
    api.limiter = HttpRateLimiter(
        core.limiter, core.auth.tokens, ProxyPolicy(config.trusted_proxies)
    )
    ws = make_ws_resource(core, config, reactor)
    api.resource().putChild(b"ws", ws)
    site = api.site(reactor)
    http_endpoint = http_listener(config, reactor)
    StreamServerEndpointService(http_endpoint, site).setServiceParent(top)

    top.core = core
    top.tcp_factory = tcp
    top.site = site
    top.ws_factory = ws.factory
    return top
