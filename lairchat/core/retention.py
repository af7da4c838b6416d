"""Retention: deleting messages older than a number of days, and expired sessions.

One rule for the server (:class:`RetentionService`, on its timer) and the operator
command (``lairchat db prune``): :func:`prune` walks the messages from the oldest,
one short transaction of at most :data:`BATCH` of them at a time
(``IStore.prune_messages``), and pauses between two, so that the message writer
process, which waits for SQLite's write lock meanwhile, commits in the gaps. It
stops at the first batch with nothing old enough: messages are numbered in the
order they were stored, so what follows is newer (a message stored while the clock
stood earlier is pruned a little late, never early).

Nothing is announced to clients: pruned messages are simply gone from history the
next time it is read (docs/operations.md, "Retention"). Read markers stay as they
are; unread counts count the messages still stored; the seqs of pruned messages
are never given again (migration 006).

Sessions are deleted by logout, bans and password changes, and an expired one when
its token is presented; a client that drops its token leaves its row. On a server
run for months that was every session ever opened, so :class:`ExpiredSessionsService`
deletes expired sessions on the same schedule and in the same batches, whether
message retention is on or not. Nobody can tell: a session's tokens expire with it
(``exp`` is its ``expires_at``), and are refused as ``token_expired`` before its row
is looked up.

Invitations were kept for good too, answered or expired, though nothing shows them
once they are not pending (listings and checks read pending ones only). The same
pass deletes those settled (answered, revoked, or expired unanswered) more than
:data:`INVITATIONS_KEPT_DAYS` days ago; until then their ids still answer
``invitation_expired`` and the like rather than ``invitation_not_found``.

Room invite codes that expired more than ``invitecodes.KEPT_DAYS`` days ago go in the
same pass (a used-up one, which nothing lists or accepts, at its expiry too): their
rows name who made them. Nothing can tell: an expired code is already
``invite_code_not_found``.

The admin audit log's entries older than LAIR_AUDIT_RETENTION_DAYS (365 by
default; 0 keeps them) go in the same pass, by the index on their time: the names
they keep are personal data, and retention is what bounds them (docs/SECURITY.md).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.internet.task import deferLater
from twisted.logger import Logger

from lairchat.domain import invitecodes
from lairchat.domain.errors import already_logged
from lairchat.storage.interfaces import IStore

DAY = 86400.0
#: Messages looked at per transaction. Measured on a file database (WAL,
#: synchronous=FULL, see docs/operations.md "Retention"): a batch of 1,000 old
#: messages deletes and commits in a few milliseconds.
BATCH = 1000
#: Seconds between two batches: the message writer's turn at the write lock.
PAUSE = 0.05
#: Seconds from the start to the first pass, and between two passes.
FIRST_RUN = 1.0
INTERVAL = 3600.0
#: How long an expired session is kept: a live connection is closed at its
#: session's expiry by its own timer, and a sweep that beat it would have the
#: session watcher (lairchat.revocation) close it as revoked instead.
EXPIRED_GRACE = 60.0
#: Days an invitation is kept once settled: answered, revoked, or expired unanswered.
INVITATIONS_KEPT_DAYS = 30

log = Logger()


def cutoff(now: float, days: int) -> float:
    """The creation time before which a message is older than ``days`` days."""
    return now - days * DAY


@defer.inlineCallbacks
def _batches(
    step: Callable[[], defer.Deferred],
    pause: Callable[[], defer.Deferred],
    stopping: Callable[[], bool],
) -> Any:
    """Run ``step()`` (fires with how many it deleted, and whether there may be
    more) until there is no more, ``pause()`` between two; fires with the total.
    Ends early, after the step or the pause in flight, once ``stopping()`` is true."""
    total = 0
    while not stopping():
        deleted, more = yield step()
        total += deleted
        if not more or stopping():
            break
        yield pause()
    return total


@defer.inlineCallbacks
def prune(
    store: IStore,
    created_before: float,
    pause: Callable[[], defer.Deferred],
    batch: int = BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> Any:
    """Delete every message created before ``created_before``, a batch per
    transaction, ``pause()`` between two; fires with how many were deleted. Ends
    early, after the batch or the pause in flight, once ``stopping()`` is true."""
    after = 0

    def step() -> defer.Deferred:
        def advanced(outcome: tuple[int, int | None]) -> tuple[int, bool]:
            nonlocal after
            deleted, after = outcome
            return deleted, after is not None

        return store.prune_messages(created_before, after, batch).addCallback(advanced)

    total = yield _batches(step, pause, stopping)
    if total and not (yield store.empty_log()):
        log.info("retention: the write-ahead log was in use; the next pass empties it")
    return total


def prune_audit(
    store: IStore,
    now: float,
    days: int,
    pause: Callable[[], defer.Deferred],
    batch: int = BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> defer.Deferred:
    """Delete every audit log entry made more than ``days`` days before ``now``, a
    batch per transaction, as :func:`prune`; fires with how many."""
    return _prune_rows(store.prune_audit, cutoff(now, days), pause, batch, stopping)


def _prune_rows(
    delete: Callable[[float, int], defer.Deferred],
    before: float,
    pause: Callable[[], defer.Deferred],
    batch: int,
    stopping: Callable[[], bool],
) -> defer.Deferred:
    """:func:`_batches` of ``delete(before, batch)`` (a store's ``prune_*``, which
    fires with how many it deleted: fewer than ``batch`` means none are left)."""

    def step() -> defer.Deferred:
        return delete(before, batch).addCallback(lambda n: (n, n == batch))

    return _batches(step, pause, stopping)


def prune_sessions(
    store: IStore,
    now: float,
    pause: Callable[[], defer.Deferred],
    batch: int = BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> defer.Deferred:
    """Delete every session that expired more than :data:`EXPIRED_GRACE` before
    ``now``, a batch per transaction, as :func:`prune`; fires with how many."""
    return _prune_rows(store.prune_sessions, now - EXPIRED_GRACE, pause, batch, stopping)


def prune_invitations(
    store: IStore,
    now: float,
    pause: Callable[[], defer.Deferred],
    batch: int = BATCH,
    stopping: Callable[[], bool] = lambda: False,
) -> defer.Deferred:
    """Delete every invitation settled more than :data:`INVITATIONS_KEPT_DAYS` days
    before ``now``, a batch per transaction, as :func:`prune`; fires with how many."""
    before = cutoff(now, INVITATIONS_KEPT_DAYS)
    return _prune_rows(store.prune_invitations, before, pause, batch, stopping)


class _Sweep(service.Service):
    """A pass shortly after the start, then every :data:`INTERVAL` seconds, on the
    server's writer pool; never two passes at once. A stop lets the batch in flight
    finish and does not wait for more. A subclass says what one pass deletes."""

    #: What a pass deletes, as a failed pass is logged.
    what = ""

    def __init__(
        self,
        store: IStore,
        clock: Any,
        first: float = FIRST_RUN,
        interval: float = INTERVAL,
        pause: float = PAUSE,
        batch: int = BATCH,
    ):
        self.store = store
        self.clock = clock
        self.first = first
        self.interval = interval
        self.pause = pause
        self.batch = batch
        self._call: Any = None
        self._pass: defer.Deferred | None = None

    def startService(self) -> None:  # noqa: N802
        super().startService()
        self._call = self.clock.callLater(self.first, self.run)

    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        return self._pass  # the batch in flight; the pass ends after it

    def sweep(self, pause: Callable[[], defer.Deferred], stopping: Callable[[], bool]) -> Any:
        """One pass; fires with how many it deleted, each kind logged if any was."""
        raise NotImplementedError

    def run(self) -> defer.Deferred:
        """One pass, then the next one scheduled; fires with how many were deleted
        (0 after a failure, which is logged: the next pass tries again)."""
        self._call = None
        self._pass = self.sweep(
            lambda: deferLater(self.clock, self.pause), lambda: not self.running
        )
        self._pass.addCallbacks(self._done, self._failed)
        return self._pass

    def _done(self, deleted: int) -> int:
        self._pass = None
        if self.running:
            self._call = self.clock.callLater(self.interval, self.run)
        return deleted

    def _failed(self, failure: Any) -> int:
        if not already_logged(failure.value):
            log.failure("retention: deleting {what} failed", failure, what=self.what)
        return self._done(0)


class RetentionService(_Sweep):
    """Prunes messages older than ``days`` days (:func:`prune`)."""

    what = "old messages"

    def __init__(self, store: IStore, clock: Any, days: int, **schedule: Any):
        super().__init__(store, clock, **schedule)
        self.days = days

    def startService(self) -> None:  # noqa: N802
        log.info(
            "retention: messages older than {days} day(s) are deleted every {hours:g} h",
            days=self.days,
            hours=self.interval / 3600,
        )
        super().startService()

    @defer.inlineCallbacks
    def sweep(self, pause: Callable[[], defer.Deferred], stopping: Callable[[], bool]) -> Any:
        before = cutoff(self.clock.seconds(), self.days)
        deleted = yield prune(self.store, before, pause, self.batch, stopping)
        if deleted:
            log.info(
                "retention: deleted {deleted} message(s) older than {days} day(s)",
                deleted=deleted,
                days=self.days,
            )
        return deleted


class ExpiredSessionsService(_Sweep):
    """Deletes expired sessions (:func:`prune_sessions`), then invitations settled
    long ago (:func:`prune_invitations`), then invite codes expired long ago
    (``IStore.prune_invite_codes``), then audit log entries older than
    ``audit_days`` days (:func:`prune_audit`; None: kept); always on."""

    what = "expired sessions, settled invitations, expired invite codes and old audit entries"

    def __init__(self, store: IStore, clock: Any, audit_days: int | None = None, **schedule: Any):
        super().__init__(store, clock, **schedule)
        self.audit_days = audit_days

    @defer.inlineCallbacks
    def sweep(self, pause: Callable[[], defer.Deferred], stopping: Callable[[], bool]) -> Any:
        now = self.clock.seconds()
        sessions = yield prune_sessions(self.store, now, pause, self.batch, stopping)
        if sessions:
            log.info("retention: deleted {deleted} expired session(s)", deleted=sessions)
        invitations = 0
        if not stopping():
            invitations = yield prune_invitations(self.store, now, pause, self.batch, stopping)
        if invitations:
            log.info(
                "retention: deleted {deleted} invitation(s) settled over {days} day(s) ago",
                deleted=invitations,
                days=INVITATIONS_KEPT_DAYS,
            )
        codes = 0
        if not stopping():
            # Expired (a used-up one too, at its expiry) over KEPT_DAYS ago.
            before = cutoff(now, invitecodes.KEPT_DAYS)
            codes = yield _prune_rows(
                self.store.prune_invite_codes, before, pause, self.batch, stopping
            )
        if codes:
            log.info(
                "retention: deleted {deleted} invite code(s) expired over {days} day(s) ago",
                deleted=codes,
                days=invitecodes.KEPT_DAYS,
            )
        entries = 0
        if self.audit_days is not None and not stopping():
            entries = yield prune_audit(
                self.store, now, self.audit_days, pause, self.batch, stopping
            )
        if entries:
            log.info(
                "retention: deleted {deleted} audit log entries older than {days} day(s)",
                deleted=entries,
                days=self.audit_days,
            )
        return sessions + invitations + codes + entries
