"""Deleting an account: the user's own (``DELETE /api/v1/users/me``, with the
password) or the operator's (``lairchat admin delete-user``). Lair Chat has none;
the right to erasure needs one (docs/SECURITY.md, "Deleting an account").

In order, each step one short transaction (IStore's account deletion steps):

1. The account stops working: marked as being deleted, every session ended, the
   password hash made unusable, pending invitations from and to it cancelled, all in
   one transaction; then its live connections are closed as a ban closes them
   (``user_offline`` as usual). Listings and the stats leave it out from here.
2. Its rooms: it leaves each (``user_left_room``, reason ``left``), a room it owned
   passing to another owner, else the longest-standing moderator, else member
   (``member_role_changed``); a room left to no one is deleted
   (:meth:`RoomService.hand_over`).
3. Its messages, room messages and DMs, are erased as retention erases (overwritten
   in the file), a batch per transaction with a pause between two, so that the
   message writer commits in the gaps however many there are. No event: other
   clients find them gone when they next load history (a ``message_deleted`` per
   message would flood them, and a new event type would drop Lair Chat's TCP
   client).
4. Last, in one transaction, what else names it and the user row; then its name is
   free (the hub's directory and look-alike index forget it).

The mark of step 1 lasts until step 4, so a server that dies in between never
serves the account again, and finishes the job at its next start (or a second
``delete-user`` does); a running server also finishes the deletions the operator
command begins beside it (:class:`DeletionWatcher`), as it alone can tell the
account's rooms.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application import service
from twisted.internet import defer
from twisted.internet.task import LoopingCall, deferLater
from twisted.logger import Logger
from twisted.python.failure import Failure

from lairchat.core.auth import AuthService
from lairchat.core.deferreds import deferred
from lairchat.core.groupcommit import settle
from lairchat.core.hub import Hub
from lairchat.core.retention import BATCH, PAUSE
from lairchat.core.rooms import RoomService
from lairchat.domain.audit import AuditEntry
from lairchat.domain.errors import LairError, account_deleted, already_logged, last_admin
from lairchat.domain.types import User
from lairchat.storage.interfaces import IStore

#: Messages read per window while looking for the account's (a read: no index finds
#: them, and reads do not hold the write lock); they are deleted :data:`BATCH` at a
#: time.
SCAN = 20 * BATCH
#: Seconds between two looks for deletions begun elsewhere (the operator command).
WATCH_INTERVAL = 5.0

log = Logger()


class AccountDeletion:
    def __init__(self, store: IStore, hub: Hub, clock: Any, auth: AuthService, rooms: RoomService):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.auth = auth
        self.rooms = rooms
        self.scan = SCAN
        self.batch = BATCH
        #: The pause between two erasing transactions (the operator command, outside
        #: a reactor, sleeps instead).
        self.pause: Callable[[], defer.Deferred] = lambda: deferLater(self.clock, PAUSE, _nothing)
        #: User id -> the callers waiting for its deletion to finish.
        self._running: dict[str, list[defer.Deferred]] = {}

    @deferred
    async def delete_own(
        self, user: User, password: str | None, source: str = "", code: str | None = None
    ) -> None:
        """The user's own deletion, once their password is given, and with two-factor
        sign-in on a code too (:meth:`AuthService.confirm_signed_in`). The last admin
        is refused: before the password and the code are checked, so that the code is
        not used up for a refusal (a one-time recovery code was lost so), and again in
        the deletion's write, which decides it (two admins deleting themselves at
        once). Fires once steps 1 and 2 are done; the rest goes on (:meth:`finished`)."""
        if await self.store.is_last_admin(user.id, self.clock.seconds()):
            raise last_admin()
        await self.auth.confirm_signed_in(user, password, code, source)
        await self.delete(user.id, keep_an_admin=True)

    def confirm(self, user: User, password: str | None, source: str = "") -> defer.Deferred:
        """An admin's password, asked before they delete another account:
        :meth:`AuthService.confirm`."""
        return self.auth.confirm(user, password, source)

    @deferred
    async def delete(
        self,
        user_id: str,
        keep_an_admin: bool = False,
        wait: bool = False,
        audit: AuditEntry | None = None,
    ) -> int:
        """Steps 1 and 2 (``user_not_found`` if there is no such user); steps 3 and 4
        then go on, and with ``wait`` are waited for (else :meth:`finished` says when
        they are done). Again on an account whose deletion was begun, it carries on
        from where that one got. Returns how many sessions it ended. ``audit``: the
        audit log's entry (an admin's or the operator's deletion), written with step 1."""
        now = self.clock.seconds()
        ended = await self.store.begin_deletion(user_id, now, keep_an_admin, audit)
        if ended is None:
            raise LairError("user_not_found")
        self.hub.revoke_user(user_id, ended, "account deleted", account_deleted())
        await self.rooms.hand_over(user_id)
        rest = self.finished(user_id)
        if wait:
            await rest
        else:
            rest.addErrback(_logged, user_id)
        return len(ended)

    def finished(self, user_id: str, erased_to: int = 0) -> defer.Deferred:
        """Steps 2 to 4 of a deletion begun, started unless they run; fires when the
        user row is gone. ``erased_to``: how far an earlier erasure got."""
        waiter: defer.Deferred = defer.Deferred()
        waiting = self._running.get(user_id)
        if waiting is not None:
            waiting.append(waiter)
            return waiter
        self._running[user_id] = [waiter]
        job = defer.ensureDeferred(self._finish(user_id, erased_to))
        job.addBoth(self._done, user_id)
        return waiter

    def _done(self, outcome: Any, user_id: str) -> None:
        for waiter in self._running.pop(user_id):
            settle(outcome, waiter)

    async def _finish(self, user_id: str, erased_to: int) -> None:
        while True:
            await self.rooms.hand_over(user_id)
            erased_to = await self._erase(user_id, erased_to)
            # A message the account sent just before it stopped (a request past its
            # token check) is committed within a group commit: let it land, for the
            # last step to erase it, rather than break the writer's foreign key after.
            await self.pause()
            rowid = await self.store.end_account(user_id, erased_to)
            if rowid is not None:
                break
            # Joined or made a room meanwhile (a request past its token check): again.
        if rowid:
            self.hub.forget_user(user_id, rowid)
        # The erased text is zeroed in the file; the write-ahead log's older frames
        # still hold it (as after retention, which empties it the same way).
        if not await self.store.empty_log():
            log.info(
                "account deletion: the write-ahead log was in use; its older frames"
                " keep erased text until SQLite writes over them"
            )

    async def _erase(self, user_id: str, after: int) -> int:
        """Erase the user's messages after seq ``after``, a batch per transaction;
        return the seq the erasure reached."""
        while True:
            seqs, after, more = await self.store.authored_in(user_id, after, self.scan)
            for start in range(0, len(seqs), self.batch):
                await self.store.erase_messages(user_id, seqs[start : start + self.batch])
                await self.pause()
            if not more:
                return after

    @deferred
    async def resume(self) -> list[str]:
        """Carry on with every deletion begun and not finished (after a crash, or by
        the operator command beside this server): its account's connections closed
        (their sessions are gone already), steps 2 to 4 started. Returns the ids of
        those started here."""
        started = []
        for user_id, erased_to in await self.store.deletions_pending():
            if user_id in self._running:
                continue
            self.hub.revoke_user(user_id, (), "account deleted", account_deleted())
            self.finished(user_id, erased_to).addErrback(_logged, user_id)
            started.append(user_id)
        return started


def _nothing() -> None:
    return None


def _logged(failure: Failure, user_id: str) -> None:
    """A deletion that failed (a storage fault): the mark stays, and the next look
    (:class:`DeletionWatcher`) or start carries on."""
    if not already_logged(failure.value):
        log.failure("deleting account {user_id} failed", failure, user_id=user_id)


class DeletionWatcher(service.Service):
    """At the start and every :data:`WATCH_INTERVAL` seconds, carry on with the
    deletions begun and not finished (:meth:`AccountDeletion.resume`)."""

    def __init__(self, deletion: AccountDeletion, clock: Any, interval: float = WATCH_INTERVAL):
        self.deletion = deletion
        self.clock = clock
        self.interval = interval
        self._loop: LoopingCall | None = None

    def startService(self) -> None:  # noqa: N802
        super().startService()
        self._loop = LoopingCall(self.look)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=True)

    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None

    def look(self) -> defer.Deferred:
        """One look; never fails (a storage fault is logged, the next look retries)."""
        return self.deletion.resume().addErrback(self._failed)

    def _failed(self, failure: Failure) -> None:
        if not already_logged(failure.value):
            log.failure("looking for account deletions failed", failure)
