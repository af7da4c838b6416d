"""Message retention: deleting messages older than a number of days.

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
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.internet.task import deferLater
from twisted.logger import Logger

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

log = Logger()


def cutoff(now: float, days: int) -> float:
    """The creation time before which a message is older than ``days`` days."""
    return now - days * DAY


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
    total, after = 0, 0
    while not stopping():
        deleted, after = yield store.prune_messages(created_before, after, batch)
        total += deleted
        if after is None or stopping():
            break
        yield pause()
    if total and not (yield store.empty_log()):
        log.info("retention: the write-ahead log was in use; the next pass empties it")
    return total


class RetentionService(service.Service):
    """Prunes messages older than ``days`` days once shortly after the start, then
    every :data:`INTERVAL` seconds, on the server's writer pool; never two passes
    at once. A stop lets the batch in flight finish and does not wait for more."""

    def __init__(
        self,
        store: IStore,
        clock: Any,
        days: int,
        first: float = FIRST_RUN,
        interval: float = INTERVAL,
        pause: float = PAUSE,
        batch: int = BATCH,
    ):
        self.store = store
        self.clock = clock
        self.days = days
        self.first = first
        self.interval = interval
        self.pause = pause
        self.batch = batch
        self._call: Any = None
        self._pass: defer.Deferred | None = None

    def startService(self) -> None:  # noqa: N802
        super().startService()
        log.info(
            "retention: messages older than {days} day(s) are deleted every {hours:g} h",
            days=self.days,
            hours=self.interval / 3600,
        )
        self._call = self.clock.callLater(self.first, self.run)

    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None
        return self._pass  # the batch in flight; prune ends after it

    def run(self) -> defer.Deferred:
        """One pass, then the next one scheduled; fires with how many were deleted
        (0 after a failure, which is logged: the next pass tries again)."""
        self._call = None
        before = cutoff(self.clock.seconds(), self.days)
        self._pass = prune(
            self.store,
            before,
            lambda: deferLater(self.clock, self.pause),
            self.batch,
            stopping=lambda: not self.running,
        )
        self._pass.addCallbacks(self._done, self._failed)
        return self._pass

    def _done(self, deleted: int) -> int:
        self._pass = None
        if deleted:
            log.info(
                "retention: deleted {deleted} message(s) older than {days} day(s)",
                deleted=deleted,
                days=self.days,
            )
        if self.running:
            self._call = self.clock.callLater(self.interval, self.run)
        return deleted

    def _failed(self, failure: Any) -> int:
        if not already_logged(failure.value):
            log.failure("retention: pruning old messages failed", failure)
        return self._done(0)
