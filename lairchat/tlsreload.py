"""Renewed TLS certificates picked up without a restart.

A server runs for months; a certificate from Let's Encrypt lasts 90 days and certbot
renews it after about 60, writing new files and pointing the symlinks under
``/etc/letsencrypt/live/`` at them. SIGHUP already means a graceful stop
(docs/operations.md), so instead of a signal the listeners' certificate is watched:
every :data:`CHECK_INTERVAL` seconds (``LAIR_TLS_RELOAD_INTERVAL``) a thread looks
at the files the settings name, following symlinks, and when their modification
time, size or inode changed, reads and checks the pair as the start does
(:func:`lairchat.tls.load_pair`), refusing also an expired certificate. A good pair
is served to connections accepted from then on; connections already open keep the
TLS session they have. A bad one (unreadable, not PEM, a key that does not match,
expired, or a renewal caught between writing the certificate and the key) leaves
the pair in use in place: one warning per change of the files or of the error, and
the pair is read again at every check until it loads.

Both listeners share one :class:`ReloadingCertificate`: one check, one log line,
the same certificate on both ports.
"""

from __future__ import annotations

import datetime
import os
from collections.abc import Callable
from typing import Any

from OpenSSL import SSL
from twisted.application import service
from twisted.internet import defer, threads
from twisted.internet.interfaces import IOpenSSLServerConnectionCreator
from twisted.internet.task import LoopingCall
from twisted.logger import Logger
from zope.interface import implementer

from lairchat.config import ConfigError
from lairchat.tls import CertificatePair, load_pair

#: Seconds between two looks at the files (LAIR_TLS_RELOAD_INTERVAL's default):
#: certbot renews a month before expiry, so a minute is prompt and costs two stat()s.
CHECK_INTERVAL = 60.0
#: A certificate in use that expires within this many days is warned about, once a
#: day: certbot renews at 30 days left, so 14 left means renewals have been failing.
EXPIRY_WARNING_DAYS = 14
DAY = 86400.0

#: What identifies the version of a file: (st_mtime_ns, st_size, st_ino) of what
#: the path resolves to, or None while it cannot be examined.
FileVersion = tuple[int, int, int] | None

log = Logger()


def file_version(path: str) -> FileVersion:
    """The version of the file at ``path``, symlinks followed (certbot replaces the
    target of a symlink, so the link's own times never change)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


def _utc(seconds: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(seconds, datetime.UTC)


@implementer(IOpenSSLServerConnectionCreator)
class ReloadingCertificate(service.Service):
    """The TLS connection creator of the listeners, serving the newest good pair.

    The first pair is read at construction, before the reactor runs: a bad one stops
    the start with the :class:`ConfigError` of :func:`load_pair`, as before. The
    checks run on ``clock`` (an ``IReactorTime``) while the service runs;
    ``in_thread(f, *args)`` runs blocking work off the reactor and returns a
    Deferred (default: the reactor's thread pool; tests pass a synchronous one)."""

    def __init__(
        self,
        cert_path: str,
        key_path: str,
        clock: Any,
        interval: float = CHECK_INTERVAL,
        cert_setting: str = "LAIR_TLS_CERT_PATH",
        key_setting: str = "LAIR_TLS_KEY_PATH",
        in_thread: Callable[..., defer.Deferred] | None = None,
    ) -> None:
        self.paths = (cert_path, key_path)
        self.settings = (cert_setting, key_setting)
        self.clock = clock
        self.interval = interval
        if in_thread is None:

            def in_thread(f: Callable[..., Any], *args: Any) -> defer.Deferred:
                return threads.deferToThreadPool(clock, clock.getThreadPool(), f, *args)

        self._in_thread = in_thread
        # Versions first: a renewal during the read is then seen at the first check.
        self._versions = self._file_versions()
        self.pair: CertificatePair = load_pair(*self.paths, *self.settings)
        #: (versions, error) of the last refused read, while the files stay refused.
        self._refused: tuple[tuple[FileVersion, ...], str] | None = None
        self._expiry_warned_at: float | None = None
        self._loop: LoopingCall | None = None

    # -- serving ---------------------------------------------------------------------

    def serverConnectionForTLS(self, protocol: Any) -> SSL.Connection:  # noqa: N802
        """A new connection gets the pair in use now (Twisted's connection creator)."""
        return self.pair.options.serverConnectionForTLS(protocol)

    def not_after(self) -> float:
        """When the certificate in use expires (Unix time), for /metrics."""
        return self.pair.not_after.timestamp()

    # -- the checks ----------------------------------------------------------------------

    def startService(self) -> None:  # noqa: N802
        super().startService()
        log.info(
            "tls: serving {certificate} from {cert_path}; the files are checked for"
            " renewals every {interval:g} s",
            certificate=self.pair.describe(),
            cert_path=self.paths[0],
            interval=self.interval,
        )
        self._warn_if_expiring()
        self._loop = LoopingCall(self.check)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=False)

    def stopService(self) -> None:  # noqa: N802
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def _file_versions(self) -> tuple[FileVersion, ...]:
        return tuple(file_version(path) for path in self.paths)

    def _examine(
        self, known: tuple[FileVersion, ...], retry: bool, now: datetime.datetime
    ) -> tuple[tuple[FileVersion, ...], CertificatePair | None]:
        """In a thread: the files' versions, and the pair read again if they changed
        since ``known`` (or ``retry``: the last read was refused); raises
        :class:`ConfigError` for a pair that cannot be served."""
        versions = self._file_versions()
        if versions == known and not retry:
            return versions, None
        try:
            return versions, load_pair(*self.paths, *self.settings, now=now)
        except ConfigError as e:
            raise _Refused(versions, str(e)) from None

    def check(self) -> defer.Deferred:
        """One look at the files; never fails (a LoopingCall would stop), so each
        outcome is logged here. Fires when done (the LoopingCall waits for it, so
        two checks never overlap)."""
        self._warn_if_expiring()
        examined = self._in_thread(
            self._examine,
            self._versions,
            self._refused is not None,
            _utc(self.clock.seconds()),
        )
        examined.addCallbacks(self._examined, self._failed)
        return examined

    def _examined(self, outcome: tuple[tuple[FileVersion, ...], CertificatePair | None]) -> None:
        versions, pair = outcome
        self._versions = versions
        self._refused = None
        if pair is None or (pair.cert_pem, pair.key_pem) == (self.pair.cert_pem, self.pair.key_pem):
            return  # unchanged, or rewritten with the same text
        self.pair = pair
        self._expiry_warned_at = None
        log.info(
            "tls: now serving {certificate} from {cert_path} to new connections;"
            " those already open keep theirs",
            certificate=pair.describe(),
            cert_path=self.paths[0],
        )
        self._warn_if_expiring()

    def _failed(self, failure: Any) -> None:
        if not failure.check(_Refused):
            log.failure("tls: checking the certificate files failed", failure)
            return
        refused = (failure.value.versions, failure.value.error)
        if refused != self._refused:
            log.warn(
                "tls: the certificate files changed but cannot be served ({error});"
                " still serving {certificate}; trying again every {interval:g} s",
                error=failure.value.error,
                certificate=self.pair.describe(),
                interval=self.interval,
            )
        self._refused = refused

    def _warn_if_expiring(self) -> None:
        """At most once a day: the certificate in use expires soon, or has expired."""
        now = self.clock.seconds()
        if self._expiry_warned_at is not None and now - self._expiry_warned_at < DAY:
            return
        left = self.not_after() - now
        if left > EXPIRY_WARNING_DAYS * DAY:
            return
        self._expiry_warned_at = now
        if left <= 0:
            log.warn(
                "tls: the certificate in use, {certificate}, has expired: clients refuse"
                " it; renew it (the new files are picked up within {interval:g} s)",
                certificate=self.pair.describe(),
                interval=self.interval,
            )
            return
        log.warn(
            "tls: the certificate in use, {certificate}, expires in {days} day(s): check"
            " that its renewal works",
            certificate=self.pair.describe(),
            days=int(left // DAY),
        )


class _Refused(Exception):
    """A pair that cannot be served, with the file versions it was read at."""

    def __init__(self, versions: tuple[FileVersion, ...], error: str) -> None:
        super().__init__(error)
        self.versions = versions
        self.error = error
