"""A user's copy of their data ("Download my data",
``POST /api/v1/users/me/export``; docs/protocols/HTTP.md, docs/SECURITY.md).

The export is one JSON object, written piece by piece (:meth:`Export.pieces`) as it is
read: every section a page at a time, each page one short read of its own, so that a
user with a million messages costs the server one page in memory, and no read
transaction stays open for the length of the export (one would keep the write-ahead
log from being reset while it runs). The transport writes each piece as it comes and
asks for the next only once the client has taken it (back-pressure).

Its last key, ``"complete": true``, is written after everything else: a body without
it was cut off (the server stopped, or a read failed mid-way).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import orjson
from twisted.logger import Logger

from lairchat.core.deferreds import deferred
from lairchat.core.deletion import AccountDeletion
from lairchat.core.messages import HistoryPage
from lairchat.core.twofactor import TwoFactor
from lairchat.domain.errors import LairError
from lairchat.domain.invitecodes import InviteCode
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Invitation, Membership, Room, Session, Target, User
from lairchat.storage.interfaces import IStore

FORMAT = "lairchat-export"
VERSION = 1
#: Rows per read in every section (and messages per read at most).
PAGE = 500
#: Message seqs (rowids) per read: no index finds a user's room messages, so the
#: table is read a range at a time, each range one short query.
SCAN = 5_000
#: Exports sent at once, all users together: each reads the whole message table
#: (SCAN rows a read, on a reader connection), so many at once would hold the
#: readers every other request needs.
MAX_RUNNING = 4

log = Logger()


def busy() -> LairError:
    """429 for a second export of one user while the first is being sent."""
    return LairError(
        "rate_limited",
        "An export of your data is already being sent",
        details={"retry_after": 1, "limit": 1},
    )


def full(most: int) -> LairError:
    """429 while ``most`` exports (anyone's) are being sent."""
    return LairError(
        "rate_limited",
        "The server is sending as many exports as it sends at once: try again shortly",
        details={"retry_after": 10, "limit": most},
    )


class DataExport:
    """Exports, one at a time per user and :attr:`most` at once in all, each once the
    user's password is given."""

    def __init__(self, store: IStore, clock: Any, deletion: AccountDeletion, two_factor: TwoFactor):
        self.store = store
        self.clock = clock
        self.deletion = deletion
        self.two_factor = two_factor
        self.page = PAGE
        self.scan = SCAN
        self.most = MAX_RUNNING
        #: Users whose export is being sent.
        self._running: set[str] = set()

    @deferred
    async def begin(
        self,
        user: User,
        session_id: str,
        password: str | None,
        source: str = "",
        code: str | None = None,
    ) -> Export:
        """The user's export, once their password, and with two-factor sign-in on a
        ``code``, are checked as an account deletion checks them (a stolen token alone
        exports nothing): 401 ``invalid_credentials``, ``totp_required``,
        ``invalid_totp``, 403 ``account_locked``; 429 ``rate_limited`` while another
        of theirs is being sent, or :attr:`most` of anyone's (before the password is
        looked at: a refusal costs no hashing). The caller must :meth:`Export.close` it when done,
        sent or not."""
        if user.id in self._running:
            raise busy()
        if len(self._running) >= self.most:
            raise full(self.most)
        self._running.add(user.id)
        try:
            await self.deletion.auth.confirm_signed_in(user, password, code, source)
            # Where the messages read stops, taken now: the file is the data as it
            # was at exported_at, not as it is when a slow client reaches them.
            end = await self.store.message_seq_end()
            two_factor = await self.two_factor.enabled(user.id)
            # The session may have ended while all that was checked (a sign-out, the
            # account's deletion): said as a 401 now. Found by the first piece's
            # check instead, nothing sent yet, it could only close the connection.
            if await self.store.get_session(session_id) is None:
                raise LairError("session_not_found")
        except BaseException:
            self._running.discard(user.id)
            raise
        return Export(self, user, session_id, self.clock.seconds(), end, two_factor)

    def _ended(self, user_id: str) -> None:
        self._running.discard(user_id)


class Export:
    """One export being sent: its JSON in pieces, in the documented key order."""

    def __init__(
        self,
        service: DataExport,
        user: User,
        session_id: str,
        now: float,
        end: int,
        two_factor: bool = False,
    ):
        """``end``: the last message seq when it began; later ones are left out.
        ``two_factor``: whether the user has it on (the file says no more of it)."""
        self.service = service
        self.store = service.store
        self.user = user
        self.session_id = session_id
        self.now = now
        self.end = end
        self.two_factor = two_factor
        self._closed = False

    def close(self) -> None:
        """Frees the user's turn (idempotent)."""
        if not self._closed:
            self._closed = True
            self.service._ended(self.user.id)

    async def pieces(self) -> AsyncIterator[bytes]:
        """The body, a piece per page read; the last piece closes the object with
        ``"complete":true``. Each piece is handed out only while the session that
        asked is still stored: one ended meanwhile (signed out, revoked, a password
        change, a ban, the account's deletion, here or by the operator's command in
        another process) stops the export with an error, which cuts the body off,
        as that session's real-time connections are closed. Else a token and
        password taken by someone would go on downloading the account after its
        owner had signed them out. Asked of the store (a key lookup per piece, beside
        a page's read), not of the hub: the hub hears of another process's
        revocations only for the sessions it has connected."""
        async with aclosing(self._body()) as body:
            async for piece in body:
                if await self.store.get_session(self.session_id) is None:
                    log.info(
                        "export for {user_id} stopped: its session ended", user_id=self.user.id
                    )
                    stopped = LairError("session_not_found")
                    stopped.reported = True  # said above: no traceback for it
                    raise stopped
                yield piece

    async def _body(self) -> AsyncIterator[bytes]:
        head = {
            "format": FORMAT,
            "version": VERSION,
            "exported_at": ts(self.now),
            "user": self.user.to_wire(),
            "two_factor": {"enabled": self.two_factor},
        }
        opening = orjson.dumps(head)[:-1]
        sections: list[tuple[str, AsyncIterator[list[Any]]]] = [
            ("sessions", self._rows("sessions", self._session)),
            ("rooms", self._rows("rooms", _room)),
            ("invitations", self._rows("invitations", Invitation.to_wire)),
            ("read_markers", self._rows("read_markers", _marker)),
            ("reactions", self._rows("reactions", _reaction)),
            ("pins", self._rows("pins", _pin)),
            ("invite_codes", self._rows("invite_codes", InviteCode.to_wire)),
            ("messages", self._messages()),
        ]
        for name, pages in sections:
            first = True
            yield opening + b',"' + name.encode() + b'":['
            async for items in pages:
                if not items:
                    # A range of the message table with none of theirs: a byte of
                    # whitespace, so that a long scan of others' messages is not
                    # taken by the client (or a proxy) for a stalled connection.
                    yield b" "
                    continue
                encoded = b",".join(orjson.dumps(item) for item in items)
                yield encoded if first else b"," + encoded
                first = False
            opening = b"]"
        yield b'],"complete":true}'

    async def _rows(
        self, section: str, wire: Callable[[Any], dict[str, Any]]
    ) -> AsyncIterator[list[dict[str, Any]]]:
        after = 0
        while True:
            rows, after = await self.store.export_rows(
                section, self.user.id, after, self.service.page
            )
            if rows:
                yield [wire(row) for row in rows]
            if len(rows) < self.service.page:
                return

    async def _messages(self) -> AsyncIterator[list[dict[str, Any]]]:
        """Every message the user wrote and every DM they received, oldest first, as
        history shows them (with their reactions); those stored after the export
        began are left out."""
        after = 0
        while after < self.end:
            found, after = await self.store.export_messages(
                self.user.id, after, self.end, self.service.scan, self.service.page
            )
            if not found:
                yield []
                continue
            reactions = await self.store.reactions_of([m.id for m in found], self.user.id)
            yield HistoryPage(found, False, reactions=reactions).to_wire()["messages"]

    def _session(self, session: Session) -> dict[str, Any]:
        return session.to_listing(session.id == self.session_id)


def _room(row: tuple[Room, Membership]) -> dict[str, Any]:
    room, membership = row
    return {"room": room.to_wire(), "membership": membership.to_wire()}


def _marker(row: tuple[Target, str | None, int]) -> dict[str, Any]:
    target, message_id, updated_at = row
    return {
        "target": target.to_wire(),
        "last_read_message_id": message_id,
        "updated_at": ts(updated_at),
    }


def _pin(row: tuple[str, str, int]) -> dict[str, Any]:
    room_id, message_id, pinned_at = row
    return {"room_id": room_id, "message_id": message_id, "pinned_at": ts(pinned_at)}


def _reaction(row: tuple[str, str, int]) -> dict[str, Any]:
    message_id, emoji, created_at = row
    return {"message_id": message_id, "emoji": emoji, "created_at": ts(created_at)}
