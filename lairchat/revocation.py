"""Closing live connections whose session another process revoked, and telling
them of a system role another process changed.

A connection keeps its session in memory, and the server closes it at once when it
revokes the session itself (logout, ban). But ``lairchat admin ban`` from the
command line, or anything else writing the same database, deletes session rows the
running server never hears of. Every few seconds :class:`SessionWatcher` asks the
database which of the connected sessions still exist, (``IStore.existing_sessions``),
and closes the connections of the missing ones. Where the session's user is banned
now, its connections get the same ``account_banned`` error frame before the close as
after a ban through the API, so a client can say why it was logged out.

``lairchat admin set-role`` writes a role the running server never hears of either:
its admin checks read the stored role, so nothing is allowed that should not be,
but the user's clients went on showing what the old role offered. :class:`RoleWatcher`
reads, at the same pace, the stored role of each user connected
(``IStore.system_roles``) and hands each one that differs from the role a
connection of theirs signed in with to ``UserService.role_now``, which tells them
(``system_role_changed``).

Both run on the reactor thread, whatever the number of connections: a pass reads
the hub's own indexes (:meth:`Hub.session_ids`, :meth:`Hub.online_user_ids`) rather
than walking every connection, sorts nothing, and cuts what is left into chunks of
a fraction of a millisecond, one per reactor turn: :data:`SESSION_CHUNK` session
ids looked up in the database's answer, :data:`ROLE_CHUNK` connections compared
with the stored role (``tools/watcher_ticks.py`` times a pass's turns).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from itertools import filterfalse
from typing import Any

from twisted.application import service
from twisted.internet import defer, task
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from lairchat.core.hub import Hub
from lairchat.core.users import UserService, signed_in_as
from lairchat.domain.errors import LairError, already_logged

#: Seconds between two checks: how long a session deleted elsewhere stays usable.
CHECK_INTERVAL = 5.0
#: How much of a pass runs in one reactor turn before the reactor runs other work,
#: each a fraction of a millisecond (docs/architecture.md): the session ids
#: :class:`SessionWatcher` looks up in the database's answer, the connections
#: :class:`RoleWatcher` compares with the stored role.
SESSION_CHUNK = 5000
ROLE_CHUNK = 1000


#: What a connection whose session was ended elsewhere (an operator's
#: ``lairchat admin reset-password``, a session deleted by another tool) is told.
ENDED = LairError("session_not_found")


class Watcher(service.Service):
    """Runs :meth:`check` every ``interval`` seconds while the service runs."""

    log = Logger()

    def __init__(self, clock: Any, interval: float = CHECK_INTERVAL):
        self.clock = clock
        self.interval = interval
        self._loop: LoopingCall | None = None

    def check(self) -> Any:  # pragma: no cover - each watcher has its own
        raise NotImplementedError

    def next_turn(self) -> defer.Deferred:
        """Fires on the reactor's next turn: a long pass lets other work run."""
        return task.deferLater(self.clock, 0, lambda: None)

    def startService(self) -> None:  # noqa: N802
        super().startService()
        self._loop = LoopingCall(self.check)
        self._loop.clock = self.clock
        self._loop.start(self.interval, now=False)

    def stopService(self) -> Any:  # noqa: N802
        super().stopService()
        if self._loop is not None and self._loop.running:
            self._loop.stop()
        self._loop = None


class SessionWatcher(Watcher):
    def __init__(
        self,
        hub: Hub,
        existing: Callable[[list[str]], defer.Deferred],
        clock: Any,
        interval: float = CHECK_INTERVAL,
        banned: Callable[[str], defer.Deferred] | None = None,
        chunk: int = SESSION_CHUNK,
    ):
        """``existing(session_ids)`` fires with the ids that still exist;
        ``banned(user_id)``, if given, with whether the user is banned now."""
        super().__init__(clock, interval)
        self.hub = hub
        self.existing = existing
        self.banned = banned
        self.chunk = chunk

    @defer.inlineCallbacks
    def check(self) -> Any:
        """One pass; returns the ids of the sessions it closed. Never fails: a
        database hiccup is logged and the next pass tries again."""
        ids = self.hub.session_ids()
        if not ids:
            return []
        try:
            alive: Iterable[str] = yield self.existing(ids)
        except Exception as e:
            if not already_logged(e):
                self.log.failure("checking the connected sessions failed")
            return []
        if not isinstance(alive, (set, frozenset)):
            alive = set(alive)
        gone: list[str] = []
        for start in range(0, len(ids), self.chunk):
            if start:
                yield self.next_turn()
            gone += filterfalse(alive.__contains__, ids[start : start + self.chunk])
        verdicts: dict[str, bool] = {}
        for session_id in gone:
            user_id = self.hub.session_user(session_id)
            if user_id is not None and user_id not in verdicts:
                verdicts[user_id] = yield self._is_banned(user_id)
            banned = verdicts.get(user_id, False)
            self.log.info(
                "session {session_id} was revoked elsewhere{why}: closing its connections",
                session_id=session_id,
                why=" (user banned)" if banned else "",
            )
            if banned:
                self.hub.close_session(session_id, "banned", LairError("account_banned"))
            else:
                # Said first, as a logout or password change here says it: the client
                # can tell its user why, rather than see the connection just drop.
                self.hub.close_session(session_id, "session revoked", ENDED)
        return gone

    @defer.inlineCallbacks
    def _is_banned(self, user_id: str) -> Any:
        """Whether to tell the user's connections they were banned; a failed lookup
        is logged and the connections are closed without the notice."""
        if self.banned is None:
            return False
        try:
            return (yield self.banned(user_id))
        except Exception as e:
            if not already_logged(e):
                self.log.failure("looking up a ban on {user_id} failed", user_id=user_id)
            return False


class RoleWatcher(Watcher):
    def __init__(
        self,
        users: UserService,
        clock: Any,
        interval: float = CHECK_INTERVAL,
        chunk: int = ROLE_CHUNK,
    ):
        super().__init__(clock, interval)
        self.users = users
        self.chunk = chunk

    @defer.inlineCallbacks
    def check(self) -> Any:
        """One pass; returns the ids of the users told of a new role. Never fails: a
        database hiccup is logged and the next pass tries again.

        The connections are compared as they are when their turn comes, ``chunk``
        of them per reactor turn: one that went away is not told, one that came
        meanwhile holds what it read at its login, or is told with the others."""
        hub = self.users.hub
        ids = hub.online_user_ids()
        if not ids:
            return []
        told = []
        try:
            stored = yield self.users.store.system_roles(ids)
            walked = 0
            held_by = hub.connections_held
            for user_id, role in stored.items():
                if walked >= self.chunk:
                    yield self.next_turn()
                    walked = 0
                subs = held_by(user_id)
                walked += len(subs) or 1
                for sub in subs:  # inline: a call per connection costs a quarter more
                    held = signed_in_as(sub)
                    if held is not None and held.role != role:
                        break
                else:
                    continue  # none signed in with another role
                user = yield self.users.store.get_user(user_id)
                if user is not None and self.users.role_now(user):
                    self.log.info(
                        "{user_id} is {role} now (set elsewhere): told", user_id=user_id, role=role
                    )
                    told.append(user_id)
        except Exception as e:
            if not already_logged(e):
                self.log.failure("checking the connected users' roles failed")
        return told
