"""``makeService``: the one place where lairchat is wired together.

Storage, the core, the real-time session settings, every listener and the
operational parts (metrics, request log, readiness, revocation checks, systemd
notifications) are built here from a :class:`lairchat.config.Config`, under one
:class:`~lairchat.lifecycle.LairChatService` so that ``twistd`` starts and stops them
as a whole (the order of a stop is described in :mod:`lairchat.lifecycle`).
"""

from __future__ import annotations

import functools
import sqlite3
import uuid
from typing import Any

from twisted.logger import Logger

from lairchat.bootstrap import BootstrapError, ensure_admin
from lairchat.config import Config
from lairchat.core.deferreds import result
from lairchat.core.deletion import DeletionWatcher
from lairchat.core.passwords import Passwords
from lairchat.core.ratelimit import RateLimiter
from lairchat.core.retention import ExpiredSessionsService, RetentionService
from lairchat.core.services import Core
from lairchat.endpoints import certificates_from, http_listener, tcp_listener
from lairchat.hashers import Hashers
from lairchat.lifecycle import CoreService, LairChatService, Listener, StartupError
from lairchat.observability.database import ObservedPool
from lairchat.observability.http import MetricsResource, ReadyResource, observe
from lairchat.observability.metrics import Metrics, TimedHub
from lairchat.realtime.session import SessionSettings
from lairchat.revocation import RoleWatcher, SessionWatcher
from lairchat.storage.sqlite import lock, migrate, pool
from lairchat.storage.sqlite.faults import StorageFault
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.storage.sqlite.writer import MessageWriter
from lairchat.transports.caps import PerAddress
from lairchat.transports.proxies import ProxyPolicy
from lairchat.transports.tcp import LairTCPFactory

__all__ = ["StartupError", "build_core", "makeService", "open_database"]

log = Logger()


def open_database(
    path: str, setting: str = "LAIR_DATABASE_URL", busy_ms: int | None = None
) -> tuple[str, sqlite3.Connection]:
    """Migrate the database and return ``(connect_path, keeper)``; a failure names
    ``setting`` (where the path came from). ``busy_ms``: the busy timeout.

    ``keeper`` is a connection for the start: for ``:memory:`` it must be held for the
    server's lifetime, as it is what keeps the shared in-memory database alive.
    """
    if path == ":memory:":
        path = f"file:lairchat-{uuid.uuid4().hex}?mode=memory&cache=shared"
    try:
        keeper = sqlite3.connect(path, uri=path.startswith("file:"), check_same_thread=False)
        pool.configure_connection(keeper, busy_ms)
        migrate.migrate(keeper)
    except migrate.SchemaError as e:
        raise StartupError(f"{setting}: {e}") from None
    except sqlite3.Error as e:
        raise _cannot_open(setting, path, e) from None
    return path, keeper


def _cannot_open(setting: str, path: str, error: sqlite3.Error) -> StartupError:
    """The one line of a start that cannot open the database, at the make or the
    start (:func:`_hold`): the setting, the file and SQLite's cause."""
    return StartupError(f"{setting}: cannot open database {path!r}: {error}")


def _load_start_state(config: Config, keeper: sqlite3.Connection, clock: Any) -> tuple:
    """Bootstrap the admin, then read what the hub needs: all before the reactor runs."""
    if config.admin_username:
        try:
            done = ensure_admin(
                keeper, clock, config.admin_username, config.admin_password, config.admin_email
            )
        except BootstrapError as e:
            raise StartupError(str(e)) from None
        log.info("{done}", done=done)
    # The store's own queries, run at once on the keeper connection.
    startup = SQLiteStore(ImmediatePool(connection=keeper), ImmediatePool(connection=keeper))
    return result(startup.all_memberships()), result(startup.user_names())


def build_core(
    config: Config, reactor: Any, metrics: Metrics | None = None
) -> tuple[Core, CoreService]:
    """The core and its service, with the database's locks held for the process's
    life (released again if the core cannot be built)."""
    setting = config.source("database_path")
    serving = database_lock = None
    try:
        serving = lock.serving(config.database_path)  # one server per database
        # `lairchat db restore` refuses while this is held
        database_lock = lock.shared(config.database_path, _waiting_for_lock)
        core, core_service = _build_core(config, reactor, metrics, setting)
    except BaseException as e:
        for held in (database_lock, serving):
            if held is not None:
                held.release()
        if isinstance(e, lock.DatabaseBusy):
            raise StartupError(
                f"{setting}: another lairchat server is serving {config.database_path!r} "
                f"(it holds {e}; `fuser {e}` names it): one server per database"
            ) from None
        if isinstance(e, OSError) and database_lock is None:
            raise StartupError(f"{setting}: cannot lock the database: {e}") from None
        raise
    core_service.database_lock = database_lock
    core_service.serving_lock = serving
    return core, core_service


def _build_core(
    config: Config, reactor: Any, metrics: Metrics | None, setting: str
) -> tuple[Core, CoreService]:
    busy_ms = pool.busy_timeout_ms(config.database_busy_timeout)
    path, keeper = open_database(config.database_path, setting, busy_ms)
    try:
        memberships, names = _load_start_state(config, keeper, reactor)
    except StorageFault as e:
        # A damaged file, a disk error: one line, as for a file SQLite cannot open,
        # not a traceback.
        keeper.close()
        message = f"{setting}: cannot read database {config.database_path!r}: {e.message}"
        raise StartupError(message) from None
    except BaseException:
        keeper.close()
        raise
    hold = None
    if "mode=memory" not in path:
        # Not across twistd's fork into a daemon: another is opened at the start.
        keeper.close()
        keeper = None
        hold = functools.partial(_hold, path, busy_ms, setting)
    raw_writer, raw_reader = pool.open_pools(path, reactor, busy_ms=busy_ms)

    def timer(name: str) -> Any:
        """What observes the transaction times labelled ``name``, if metrics are on."""
        return metrics.db_duration.labels(name).observe if metrics is not None else None

    def observed(raw: Any, name: str) -> ObservedPool:
        return ObservedPool(raw, reactor, timer(name))

    writer = observed(raw_writer, "writer")
    reader = writer if raw_reader is raw_writer else observed(raw_reader, "reader")
    messages = None
    if "mode=memory" not in path:  # a file: another process can open it
        messages = MessageWriter(path, reactor, timer("messages"), busy_ms=busy_ms)
    store = SQLiteStore(
        writer, reader, config.database_path, messages.insert if messages is not None else None
    )
    hash_pool = Hashers(reactor)
    limiter = RateLimiter(reactor, enabled=config.rate_limits)
    hub = TimedHub(metrics.fanout_duration) if metrics is not None else None
    # Password hashing is CPU-bound: workers of its own (processes, lairchat.hashers)
    # keep a login storm from starving the database threads or the reactor, and
    # their queue is bounded.
    passwords = Passwords(hash_pool, hash_pool.count, config.password_wait)
    core = Core.build(
        store,
        reactor,
        config.jwt_secret,
        hub=hub,
        limiter=limiter,
        passwords=passwords,
    )
    # The hub's indexes are loaded synchronously before the reactor runs.
    core.hub.load(memberships, names)
    pools = (writer,) if reader is writer else (writer, reader)
    core_service = CoreService(core, keeper, hash_pool, pools, reactor, messages, hold)
    return core, core_service


def _hold(path: str, busy_ms: int, setting: str) -> sqlite3.Connection:
    """The connection a file database keeps open while the server runs
    (:meth:`CoreService.startService` says why): to the file the start migrated
    (never a new, empty one in its place), with the pools' settings. Unchecked, as
    the start's own: the pools' check of the log's files guards the server's
    connections, and none is open yet.

    It is opened after twistd's switch to ``--uid``/``--gid``, and after the fork
    of a daemon: a file that user may not open (another user's, mode 0600), or one
    deleted or replaced since the make, is a :class:`StartupError` naming the file
    (found starting with ``--uid=nobody`` on a file of another user: a traceback
    ending ``sqlite3.OperationalError: unable to open database file``)."""
    conn = None
    try:
        conn = sqlite3.connect(pool.existing(path), uri=True)
        pool.configure_connection(conn, busy_ms)
    except sqlite3.Error as e:
        if conn is not None:
            conn.close()
        raise _cannot_open(setting, path, e) from None
    return conn


def _waiting_for_lock(lock_file: str) -> None:
    log.warn("{lock_file} is held by a lairchat db command; waiting for it", lock_file=lock_file)


def _listen_setting(config: Config, kind: str) -> str:
    """What a listen error names: the endpoint setting if given, else the port's."""
    explicit = getattr(config, f"{kind}_endpoint")
    return config.source(f"{kind}_endpoint" if explicit else f"{kind}_port")


def makeService(config: Config, reactor: Any = None) -> LairChatService:  # noqa: N802
    if reactor is None:
        from twisted.internet import reactor
    from lairchat.transports.http.app import HttpApi
    from lairchat.transports.http.ratelimit import HttpRateLimiter
    from lairchat.transports.websocket import make_ws_resource

    metrics = Metrics()
    top = LairChatService(reactor)
    core, core_service = build_core(config, reactor, metrics)
    core_service.setServiceParent(top)
    SessionWatcher(
        core.hub, core.store.existing_sessions, reactor, banned=core.auth.is_banned
    ).setServiceParent(top)
    RoleWatcher(core.users, reactor).setServiceParent(top)
    # Finishes the account deletions a crash interrupted, and those the operator
    # command begins beside this server.
    DeletionWatcher(core.deletion, reactor).setServiceParent(top)

    ExpiredSessionsService(
        core.store, reactor, audit_days=config.audit_retention_days
    ).setServiceParent(top)
    if config.message_retention_days is not None:
        RetentionService(core.store, reactor, config.message_retention_days).setServiceParent(top)

    certificates = None
    if config.tls_enabled or config.tcp_tls:
        # One for both ports: one check of the files, one log line per renewal.
        certificates = certificates_from(config, reactor)
        certificates.setServiceParent(top)
        metrics.certificate_expiry(certificates.not_after)

    proxies = ProxyPolicy.from_config(config)
    tcp = LairTCPFactory(
        core,
        SessionSettings.from_config(config, "tcp"),
        reactor,
        config.tcp_max_connections,
        PerAddress(config.tcp_max_connections_per_address, proxies.is_trusted),
    )
    tcp_port = top.add_listener(
        Listener(
            "tcp",
            tcp_listener(config, reactor, certificates),
            tcp,
            _listen_setting(config, "tcp"),
        )
    )

    api = HttpApi(core, config, proxies)
    api.limiter = HttpRateLimiter(core.limiter, core.auth.tokens, proxies)
    ws = make_ws_resource(core, config, reactor, proxies)
    root = api.resource()
    root.putChild(b"ws", ws)
    root.putChild(b"metrics", MetricsResource(metrics))
    site = api.site(reactor)
    observe(site, reactor, proxies, metrics)
    http_port = top.add_listener(
        Listener(
            "http",
            http_listener(config, reactor, certificates),
            site,
            _listen_setting(config, "http"),
        )
    )
    listening = {"tcp": lambda: tcp_port.listening, "http": lambda: http_port.listening}
    # Ours knows the listeners too; the API's /ready (database only) stays for HttpApi
    # used alone.
    root.putChild(b"ready", ReadyResource(core.store, reactor, listening))
    refusals = {"tcp": tcp.refusals, "http": site.refusals, "websocket": ws.factory.refusals}
    metrics.watch(
        core,
        {"tcp": lambda: len(tcp.open), "websocket": lambda: len(ws.factory.open)},
        listening,
        refusals,
    )
    top.refusals = tuple(refusals.values())
    core_service.transports = (tcp, ws.factory)

    top.core = core
    top.metrics = metrics
    top.tcp_factory = tcp
    top.site = site
    top.ws_factory = ws.factory
    return top
