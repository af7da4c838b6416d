"""How the server starts and stops: listeners that know their state, the core's
orderly shutdown, and the top service that runs them in the right order.

A stop (SIGTERM) goes in this order, each step finished before the next:

1. ``STOPPING=1`` to systemd; both listeners stop accepting connections;
2. the other services stop one by one, the revocation checks first, the core last;
3. the core sends ``server_notice`` to every signed-in connection, then closes every real-time
   connection;
4. database transactions in flight finish (and connections finish closing, or are
   aborted after :data:`CLOSE_AT_STOP` seconds), for at most :data:`SHUTDOWN_GRACE`
   seconds; then the message writer process answers what
   it still has and exits, and the pools and threads are closed.

A message is acknowledged only after its commit, so nothing acknowledged is lost.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import signal
import sqlite3
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.internet.protocol import Factory
from twisted.internet.task import deferLater
from twisted.logger import ILogObserver, Logger
from twisted.protocols.tls import TLSMemoryBIOFactory
from twisted.python.components import Componentized

import lairchat
from lairchat import allocator, collector, systemd
from lairchat.config import JWT_SECRET_SUFFIX, MEMORY_DATABASE, ConfigError
from lairchat.core.services import Core
from lairchat.hashers import Hashers
from lairchat.observability.database import ObservedPool
from lairchat.storage.sqlite import lock
from lairchat.storage.sqlite.writer import MessageWriter

log = Logger()


# twistd sets the process's umask and working directory (and daemonizes) only after
# the service is made, yet making it opens the database (creating it, its WAL and
# shared-memory files) and the log file. The plugin applies both first. Without it, a
# daemon started from a shell with umask 022 left its database, password hashes
# included, world-readable; and with ``--rundir`` a relative database path named one
# file at the start and another for the message writer and pools, started after the
# change of directory. The rules are those of ``UnixApplicationRunner``.


def _twistd(options: Any) -> Any:
    """twistd's own options (they have ``nodaemon``), or None: made outside twistd, or
    under ``twist``, which runs in the foreground and changes neither."""
    if getattr(options, "get", None) is None or "nodaemon" not in options:
        return None
    return options


def twistd_daemon(options: Any) -> bool:
    """Whether twistd will run the service as a daemon (no ``--nodaemon``)."""
    twistd = _twistd(options)
    return twistd is not None and not twistd.get("nodaemon")


def twistd_umask(options: Any) -> int | None:
    """The umask twistd will set (``--umask``, else 077 for a daemon), or None when
    it sets none."""
    twistd = _twistd(options)
    if twistd is None:
        return None
    umask = twistd.get("umask")
    return 0o077 if umask is None and twistd_daemon(twistd) else umask


def twistd_rundir(options: Any) -> str | None:
    """The directory twistd will change to (``--rundir``, default ``.``), or None:
    not twistd, or ``--chroot``, after which no path seen now means the same."""
    twistd = _twistd(options)
    if twistd is None or twistd.get("chroot"):
        return None
    return twistd.get("rundir") or "."


def twistd_owner(options: Any) -> tuple[int, int] | None:
    """``(uid, gid)`` twistd will switch to once the ports are open (``--uid``,
    ``--gid``; -1 for the one it keeps, as ``os.chown`` takes it), or None."""
    twistd = _twistd(options)
    if twistd is None or (twistd.get("uid") is None and twistd.get("gid") is None):
        return None
    uid, gid = twistd.get("uid"), twistd.get("gid")
    if uid is not None and gid is None:  # twistd's rule: the user's own group
        gid = pwd.getpwuid(uid).pw_gid
    return (-1 if uid is None else uid, -1 if gid is None else gid)


def hand_database_to(database: str, owner: tuple[int, int] | None) -> None:
    """Give the files of ``database`` that root made to the user twistd switches to.

    The service is made, and so the database, its WAL, its JWT secret and its lock
    files created, before twistd sheds root for ``--uid``/``--gid``: found following
    docs/deployment.md's daemon command (``--uid=lairchat --gid=lairchat``), which
    left them root's, mode 0600. The server said ``ready``, then its message writer,
    started as lairchat, could not open the database: every request that wrote
    answered 500 and ``/ready`` 503. Only files root owns are changed: another
    user's are that user's business (the start names them if it cannot use them)."""
    if owner is None or database == MEMORY_DATABASE or os.geteuid() != 0:
        return
    for suffix in ("", "-wal", "-shm", JWT_SECRET_SUFFIX):
        _give_if_roots(database + suffix, owner)
    for lock_file in (lock.lock_path(database), lock.serving_path(database)):
        if lock_file is not None:
            _give_if_roots(lock_file, owner)


def _give_if_roots(path: str, owner: tuple[int, int]) -> None:
    try:
        if os.stat(path).st_uid == 0:
            os.chown(path, *owner)
    except FileNotFoundError:
        pass
    except OSError as e:  # root refused, as on an NFS export that squashes root
        raise StartupError(f"--uid: cannot give {path} to its user: {e.strerror}") from None


#: Longest a stop waits for transactions in flight and closing connections.
SHUTDOWN_GRACE = 5.0
#: How long a stop lets connections close before it aborts the ones left: a peer that
#: neither reads what it is sent nor finishes a TLS handshake would otherwise hold the
#: stop until its grace ran out, with work reported unfinished.
CLOSE_AT_STOP = 3.0
#: How often a stop looks whether everything has settled.
SETTLE_POLL = 0.01
SHUTDOWN_NOTICE = "Server is shutting down"


class StartupError(ConfigError):
    """The server cannot start; the message is one line for the operator."""


class Listener(service.Service):
    """Listens on one endpoint (like ``StreamServerEndpointService``) and knows whether
    it is listening, for ``/ready``, the metrics and systemd's ``READY=1``.

    Failing to listen at start raises :class:`StartupError`: twistd then exits with an
    error (a daemon reports it through its parent) instead of running without the port.
    """

    log = Logger()

    def __init__(self, name: str, endpoint: Any, factory: Any, setting: str):
        self.setName(name)
        self.endpoint = endpoint
        # Its own lines ("Starting factory <...BoundedSite object at 0x7f...>" and
        # "Stopping factory ...") say less than ours ("http listening on ...", "http
        # stops listening"), with a memory address an operator can do nothing with.
        if isinstance(factory, Factory):
            factory.noisy = False
        self.factory = factory
        self.setting = setting
        self.port: Any = None
        self._attempt: defer.Deferred | None = None
        self._waiting: list[defer.Deferred] = []
        self._failure: Any = None

    @property
    def listening(self) -> bool:
        return self.port is not None

    def address(self) -> str:
        if self.port is None:
            return "-"
        host = self.port.getHost()
        if hasattr(host, "port"):
            return f"{host.host}:{host.port}"
        name = getattr(host, "name", host)  # a Unix socket's path
        return name.decode("utf-8", "replace") if isinstance(name, bytes) else str(name)

    def where(self) -> str:
        """The address, with `` (TLS)`` when the port speaks TLS: the start's log
        said ``http on 0.0.0.0:8082`` whether LAIR_TLS_ENABLED had taken effect or
        not, and an operator checking a new certificate setup had to try a client."""
        factory = getattr(self.port, "factory", None)
        return self.address() + (" (TLS)" if isinstance(factory, TLSMemoryBIOFactory) else "")

    def when_listening(self) -> defer.Deferred:
        """Fires with the port once listening (at once if it already is)."""
        if self.port is not None:
            return defer.succeed(self.port)
        if self._failure is not None:
            return defer.fail(self._failure)
        d: defer.Deferred = defer.Deferred()
        self._waiting.append(d)
        return d

    def privilegedStartService(self) -> None:  # noqa: N802
        # Before twistd sheds privileges (--uid): ports below 1024 work.
        super().privilegedStartService()
        self._listen()

    def startService(self) -> None:  # noqa: N802
        super().startService()
        if self._attempt is None:
            self._listen()

    def _listen(self) -> None:
        starting = [True]
        failed: list[Any] = []

        def listened(port: Any) -> None:
            self.port = port
            self.log.info("{name} listening on {address}", name=self.name, address=self.where())
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.callback(port)

        def refused(failure: Any) -> None:
            if failure.check(defer.CancelledError):
                return
            self._failure = failure
            if starting[0]:
                failed.append(failure)
                return
            self.log.critical(
                "{setting}: {error}", setting=self.setting, error=failure.getErrorMessage()
            )
            waiting, self._waiting = self._waiting, []
            for d in waiting:
                d.errback(failure)

        self._attempt = self.endpoint.listen(self.factory)
        self._attempt.addCallbacks(listened, refused)
        starting[0] = False
        if failed:
            message = f"{self.setting}: {failed[0].getErrorMessage()}"
            self.log.critical("{message}", message=message)
            raise StartupError(message)

    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        port, self.port = self.port, None
        if port is None:
            if self._attempt is not None:
                self._attempt.cancel()
            return None
        self.log.info("{name} stops listening", name=self.name)
        return defer.maybeDeferred(port.stopListening)


class CoreService(service.Service):
    """Owns the database pools, the password hashers and the core's lifecycle."""

    def __init__(
        self,
        core: Core,
        keeper: sqlite3.Connection | None,
        hash_pool: Hashers,
        pools: Iterable[ObservedPool] = (),
        clock: Any = None,
        message_writer: MessageWriter | None = None,
        hold: Callable[[], sqlite3.Connection] | None = None,
    ):
        """``keeper``: a connection held until the stop (an in-memory database's,
        which it keeps alive); or ``hold``, which opens it at the start (a file
        database's, see :meth:`startService`)."""
        self.core = core
        self.keeper = keeper
        self.hold = hold
        self.hash_pool = hash_pool
        self.message_writer = message_writer
        #: What a clean stop waits on: everything with transactions in flight.
        self.pools = (*pools, message_writer) if message_writer is not None else tuple(pools)
        self.clock = clock if clock is not None else core.clock
        #: Connection factories whose ``open`` sets hold protocols with a ``session``.
        self.transports: tuple[Any, ...] = ()

    def startService(self) -> None:  # noqa: N802
        super().startService()
        if self.hold is not None:
            # SQLite makes a write-ahead log's files as the first connection opens
            # (the log, ``-wal``, then an instant later its index, ``-shm``) and
            # deletes them as the last one closes (the index first). The start's own
            # connection is closed before twistd's fork, so the first connections of
            # the pools and the message writer opened at once on a database with
            # neither, and one's check that the index was not deleted
            # (faults.log_check) could look between another's two files: a fresh
            # server's first registration in CI was answered internal_error. Held
            # from before any of them opens (this is after the fork), the files are
            # there while the server runs, as that check assumes.
            self.keeper = self.hold()
        if self.message_writer is not None:
            self.message_writer.start()

    @defer.inlineCallbacks
    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        self.core.admin.notice(SHUTDOWN_NOTICE, "warning")
        # A connection with a command in flight holds new events for one reactor turn
        # (so that they follow the response); two turns and the notice is written.
        yield deferLater(self.clock, 0)
        yield deferLater(self.clock, 0)
        self.close_connections("server shutting down")
        yield self.settle(SHUTDOWN_GRACE)
        if self.message_writer is not None:
            yield self.message_writer.stop()
        self.core.store.close()
        self.hash_pool.stop()
        if self.keeper is not None:
            self.keeper.close()

    def close_connections(self, reason: str) -> None:
        hub = self.core.hub
        for user_id in hub.online_user_ids():
            hub.close_user(user_id, reason)
        for transport in self.transports:
            for protocol in list(transport.open):
                session = getattr(protocol, "session", None)
                if session is not None:
                    session.close(reason)

    def settled(self) -> bool:
        return all(p.idle for p in self.pools) and not any(t.open for t in self.transports)

    @defer.inlineCallbacks
    def settle(self, grace: float) -> Any:
        """Wait until no transaction is in flight and every connection has closed, or
        ``grace`` seconds. A transaction started from another's result is counted
        before that one is forgotten (ObservedPool), so idle means idle."""
        start = self.clock.seconds()
        deadline, abort_at = start + grace, start + min(CLOSE_AT_STOP, grace)
        while not self.settled():
            now = self.clock.seconds()
            if abort_at is not None and now >= abort_at:
                abort_at = None
                self.abort_connections()
            if now >= deadline:
                log.warn(
                    "stopping with work unfinished after {grace} s: {pending}",
                    grace=grace,
                    pending=self._pending(),
                )
                return
            yield deferLater(self.clock, SETTLE_POLL)

    def abort_connections(self) -> None:
        """Drop the connections still open, without waiting for their peers."""
        left = [p for t in self.transports for p in t.open]
        if not left:
            return
        log.info(
            "aborting {count} connection(s) still closing after {grace} s",
            count=len(left),
            grace=CLOSE_AT_STOP,
        )
        for protocol in left:
            protocol.transport.abortConnection()

    def _pending(self) -> str:
        busy = sum(p.in_flight for p in self.pools)
        conns = sum(len(t.open) for t in self.transports)
        return f"{busy} transaction(s), {conns} connection(s)"


class LairChatService(service.MultiService):
    """The server: starts like a MultiService; stops the listeners first, then every
    other child one at a time in reverse order of addition (the core last)."""

    #: The log observer for twistd (see :mod:`lairchat.observability.logs`).
    log_observer: ILogObserver | None = None
    #: Once ready, settle the heap (:func:`lairchat.collector.settle_heap`): move every
    #: object alive into the collector's permanent generation and make young passes
    #: rarer. What exists by then (code, configuration, the directory) lives as long
    #: as the process, yet each full collection walked it all: about 50 ms with the
    #: reactor stopped, several times a minute under load. Measured at 5,000 msg/s
    #: into a 100-member room: full collections 46-52 ms -> 0.7-1.4 ms, p99 latency
    #: 66-85 ms -> 32-50 ms. Also keep freed memory for reuse
    #: (:func:`lairchat.allocator.keep_freed_memory`). Set by the twistd plugin; tests
    #: that start many services in one process leave it off.
    freeze_heap: bool = False
    #: Run in the foreground (twistd ``-n``): a listener that cannot listen ends the
    #: process with its one log line, not a traceback. Set by the twistd plugin.
    foreground: bool = False
    #: The listeners' refusal logs (:class:`lairchat.transports.caps.Refusals`): their
    #: open windows are logged once the listeners have stopped.
    refusals: tuple[Any, ...] = ()

    def __init__(self, clock: Any):
        super().__init__()
        self.clock = clock
        self.listeners: list[Listener] = []
        self.watchdog: systemd.Watchdog | None = None

    def setServiceParent(self, parent: Any) -> None:  # noqa: N802
        super().setServiceParent(parent)
        # twistd makes the application, adds us to it and only then begins logging,
        # with the application's ILogObserver component when it has one.
        if (
            self.log_observer is not None
            and isinstance(parent, Componentized)
            and parent.getComponent(ILogObserver) is None
        ):
            parent.setComponent(ILogObserver, self.log_observer)

    def privilegedStartService(self) -> None:  # noqa: N802
        try:
            super().privilegedStartService()
        except StartupError as e:
            # The listener logged one critical line naming its setting.
            self._start_failed(e)
            raise

    def _start_failed(self, error: StartupError) -> None:
        """End a start that raised ``error``, whose critical line is logged: in the
        foreground twistd would add a traceback. Exit as a configuration error
        does, with status 2. A daemon's parent waits for its child to report an
        exception (it would wait forever for one that exits), and prints it.
        Twisted's own report wrote StartupError's traceback into the log file and
        cut the line it sent the parent at 100 bytes, class name included (``...
        0.0.0.0:8082: [Errno 98] Addre``); so the report is made here. Either way
        the pid file goes, as twistd removes it after an exception: a stale one
        names a pid that another process may have by the next start. Returns (for
        the caller to raise ``error``) only with neither twistd mode set."""
        self._forget_pidfile()
        if self.foreground:
            raise SystemExit(2) from None
        if self._tell_parent(str(error)):
            raise SystemExit(1) from None

    #: twistd's own options (``--pidfile``; ``statusPipe``, the daemon's line to the
    #: parent waiting for its start). Set by the twistd plugin.
    twistd_options: Any = None

    def _forget_pidfile(self) -> None:
        pidfile = (self.twistd_options or {}).get("pidfile")
        if not pidfile:
            return
        with contextlib.suppress(OSError, ValueError):
            if int(Path(pidfile).read_text()) == os.getpid():
                os.unlink(pidfile)

    def _tell_parent(self, message: str) -> bool:
        """Send a daemon's parent the start's failure (twistd's "1 <text>", at most
        100 bytes: the parent reads no more) and take the pipe from twistd, which
        would write to it again. False when there is no parent waiting."""
        options = self.twistd_options or {}
        pipe = options.get("statusPipe")
        if pipe is None:
            return False
        options["statusPipe"] = None
        try:
            os.write(pipe, f"1 {message}".encode("ascii", "backslashreplace")[:100])
        finally:
            os.close(pipe)
        return True

    def add_listener(self, listener: Listener) -> Listener:
        listener.setServiceParent(self)
        self.listeners.append(listener)
        return listener

    #: What the start found doubtful but not wrong (config.unknown_variables), logged
    #: once logging has begun. Set by the twistd plugin.
    warnings: tuple[str, ...] = ()

    def startService(self) -> None:  # noqa: N802
        for warning in self.warnings:
            log.warn("{warning}", warning=warning)
        try:
            super().startService()
        except StartupError as e:
            # The core's, which opens the database after twistd's switch to --uid
            # (lairchat.service._hold): a traceback before, status 1.
            log.critical("{message}", message=str(e))
            self._start_failed(e)
            raise
        waiting = defer.gatherResults(
            [listener.when_listening() for listener in self.listeners], consumeErrors=True
        )
        waiting.addCallbacks(self._once_running, lambda failure: None)

    def _once_running(self, _: Any) -> None:
        """:meth:`_ready` once the reactor runs. twistd starts the service before it
        runs the reactor, which only then installs its SIGTERM and SIGINT handlers:
        READY=1 sent before that let a stop that came at once (``systemctl stop``
        right after the start) end the process by the signal's default action, with
        no notice to clients and no ordered stop. A ``task.Clock`` (unit tests) has
        no reactor to wait for."""
        call_when_running = getattr(self.clock, "callWhenRunning", None)
        if call_when_running is None:
            self._ready()
        else:
            call_when_running(self._stop_on_hangup)
            call_when_running(self._ready)

    def _stop_on_hangup(self) -> None:
        """A hangup (the terminal of a server run with ``-n`` closing, ``kill -HUP``)
        stops the server as SIGTERM does. Its default action ended the server and its
        message writer at once: no notice to clients, batches in flight unanswered.
        Not where SIGHUP is ignored (``nohup``) or handled by someone else."""
        if signal.getsignal(signal.SIGHUP) is signal.SIG_DFL:
            signal.signal(signal.SIGHUP, self._hung_up)

    def _hung_up(self, signum: int, frame: Any) -> None:
        # As the reactor's own SIGTERM handler does: log, then stop from its thread.
        self.clock.callFromThread(log.info, "Received SIGHUP, shutting down.")
        self.clock.callFromThread(self.clock.stop)

    #: The database file, and whether this start made it: named in the ready line.
    #: Started from another directory, the relative default (``lair-chat.db``) is a
    #: new, empty database, and a new user found their account gone with nothing
    #: in the log to say why. Set by the twistd plugin.
    database: str | None = None
    database_is_new: bool = False

    def _ready(self) -> None:
        where = ", ".join(f"{lst.name} on {lst.where()}" for lst in self.listeners)
        database = ""
        if self.database is not None:
            new = " (new: made by this start)" if self.database_is_new else ""
            database = f"; database {self.database}{new}"
        log.info(
            "lairchat {version} ready: {where}{database}",
            version=lairchat.__version__,
            where=where,
            database=database,
        )
        systemd.notify("READY=1", f"STATUS=Serving: {where}")
        if self.freeze_heap:
            collector.settle_heap()
            allocator.keep_freed_memory()
        interval = systemd.watchdog_interval()
        if interval is not None:
            self.watchdog = systemd.Watchdog(self.clock, interval)
            self.watchdog.start()

    #: The signals that stop the server (the reactor's handlers, and ours for SIGHUP).
    STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)

    def _hold_stop_signals(self) -> None:
        """From here on, a stop signal says the stop goes on. The reactor's handler
        would stop the reactor again, which is stopping: a second SIGTERM or Ctrl-C
        logged a critical ``ReactorNotRunning`` traceback. Only the reactor's own
        handlers are replaced (not a test runner's, nor a debugger's)."""
        for signum in self.STOP_SIGNALS:
            if getattr(signal.getsignal(signum), "__self__", None) in (self.clock, self):
                signal.signal(signum, self._signalled_while_stopping)

    def _signalled_while_stopping(self, signum: int, frame: Any) -> None:
        # Logged from the reactor's thread, as the reactor's own handlers do.
        self.clock.callFromThread(
            log.warn,
            "{signal} while stopping: the stop goes on (SIGKILL ends the process at"
            " once; what was acknowledged is on disk)",
            signal=signal.Signals(signum).name,
        )

    @defer.inlineCallbacks
    def stopService(self) -> Any:  # noqa: N802
        service.Service.stopService(self)
        self._hold_stop_signals()
        log.info("lairchat stopping")
        systemd.notify("STOPPING=1", "STATUS=Stopping")
        if self.watchdog is not None:
            self.watchdog.stop()
        yield defer.DeferredList(
            [defer.maybeDeferred(lst.stopService) for lst in self.listeners if lst.running],
            consumeErrors=True,
        )
        for refusals in self.refusals:
            refusals.flush()
        for child in reversed(list(self)):
            if child.running and child not in self.listeners:
                try:
                    yield defer.maybeDeferred(child.stopService)
                except Exception:
                    log.failure("stopping {service} failed", service=child)
        log.info("lairchat stopped")
