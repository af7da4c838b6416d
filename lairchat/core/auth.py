"""Authentication: registration, login with lockout, sessions, tokens, bans.

A token is valid only while its server-side session exists: logout, a ban or expiry
revoke it at once on every transport (the hub closes live connections).
"""

from __future__ import annotations

import functools
import hashlib
import unicodedata
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from twisted.internet import defer

from lairchat.core import paging
from lairchat.core.bounded import forget_expired, forget_oldest
from lairchat.core.deferreds import deferred
from lairchat.core.hub import Hub
from lairchat.core.passwords import Passwords
from lairchat.core.tokens import Claims, Tokens
from lairchat.domain import lookalike, validation
from lairchat.domain.audit import AuditEntry
from lairchat.domain.errors import LairError, already_logged
from lairchat.domain.ids import new_id
from lairchat.domain.timefmt import ts_plus
from lairchat.domain.types import Session, User
from lairchat.storage.interfaces import IStore

SESSION_LIFETIME = 24 * 3600
#: Failed logins for one identifier from one client address, within the window,
#: before that address is locked out of it.
LOCKOUT_THRESHOLD = 5
#: Failed logins for one identifier from all addresses together, within the window,
#: before it is locked for everyone: guessing spread over many addresses.
LOCKOUT_THRESHOLD_ALL = 25
LOCKOUT_WINDOW = 15 * 60
LOCKOUT_DURATION = 15 * 60
#: Bound on remembered identifiers and (identifier, address) pairs; the oldest are
#: forgotten first.
LOCKOUT_TRACKED_MAX = 50_000
#: Attempts on one identifier that may wait for pending ones to settle; past it they
#: are refused. (Each is an open request, so connection caps bound them too.)
LOCKOUT_WAITING_MAX = LOCKOUT_THRESHOLD_ALL
#: How long an address a login succeeded from still gets in while the identifier is
#: locked for everyone.
LOCKOUT_KNOWN_FOR = 30 * 24 * 3600
#: Sessions the listing shows at most, the newest: every login makes one, without
#: limit, and each lasts a day.
SESSIONS_LISTED_MAX = 100
#: A session's ``last_active_at`` is renewed when it is used at least this long
#: (seconds) after the time stored: one write a minute per session in use, not one
#: per request.
LAST_ACTIVE_EVERY = 60
#: The longest ``User-Agent`` kept with a session, in characters: a header may be up
#: to 16 KiB, and every login stores one for a day.
USER_AGENT_MAX = 256


@dataclass(frozen=True, slots=True)
class Seen:
    """The client as seen where a session is made, kept with the session for its
    listing (``GET /auth/sessions``): its address as the server determines it
    (``ProxyPolicy``: behind a trusted proxy, the client it speaks for) and what it
    sent as ``User-Agent`` (HTTP and the WebSocket upgrade; None over TCP)."""

    address: str | None = None
    user_agent: str | None = None

    @classmethod
    def of(cls, address: str | None, user_agent: str | bytes | None) -> Seen:
        """Decoded, control characters dropped (a listing is shown in terminals, where
        an escape sequence would act), cut to :data:`USER_AGENT_MAX` characters;
        empty is None."""
        if isinstance(user_agent, bytes):
            user_agent = user_agent.decode("utf-8", "replace")
        if user_agent is not None:
            kept = "".join(c for c in user_agent if unicodedata.category(c) != "Cc")
            user_agent = kept.strip()[:USER_AGENT_MAX] or None
        return cls(address or None, user_agent)


def unknown_session() -> LairError:
    """404 ``not_found``: an id that names no live session of the caller's. Unknown,
    ended and another user's are answered alike, so that nobody learns whether an id
    is someone's. Not ``session_not_found``: clients (ours among them) take that
    code, whatever the status, for "your own session is gone" and sign out, and a
    second click on "end session" would have signed the user out."""
    return LairError("not_found", "Session not found")


@dataclass(slots=True)
class AuthResult:
    user: User
    session: Session
    token: str

    def to_wire(self) -> dict:
        return {"user": self.user.to_wire(), "session": self.session.to_wire(), "token": self.token}


class Lockout:
    """Counts failed logins in memory, per identifier and client address, and per
    identifier alone.

    Counted per identifier alone, anyone could lock a known user out by failing five
    times. Counted per address, failures lock out only the address they come from,
    and the user still logs in from theirs; a guesser with many addresses meets the
    higher threshold for all of them together, which locks the identifier for every
    address but those it was logged in from before (SECURITY.md).

    Every attempt goes through :meth:`admit` and then :meth:`settle`. Attempts whose
    password check is still running count as failures until they settle, so a burst
    sent together cannot pass a threshold before the first failure is counted; an
    attempt that would pass one if those all failed waits (at most
    ``LOCKOUT_WAITING_MAX`` of them per identifier) for them to settle, then is
    decided again. Concurrent honest logins therefore all get in, one after the
    other, while a burst of guesses still gets no more checks than the threshold."""

    def __init__(self, clock, message: str = "Account locked: too many failed login attempts"):
        """``message``: the ``account_locked`` error's, for what the lockout guards."""
        self._clock = clock
        self._message = message
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        #: Attempts admitted and not yet settled, per key.
        self._pending: dict[str, int] = {}
        #: Attempts waiting for pending ones to settle, per identifier key, first come
        #: first: each fires when one on the identifier settles.
        self._waiting: dict[str, list[defer.Deferred]] = {}
        #: (identifier, address) keys a login succeeded from, and when it last did:
        #: these still get in while the identifier is locked for every other address.
        self._known: dict[str, float] = {}

    @staticmethod
    def _keys(identifier: str, source: str) -> tuple[str, str]:
        """The identifier's key, and the key of the identifier from ``source``.

        The identifier is folded as the login's lookup folds it (ASCII letters only:
        ``Émile`` and ``émile`` are two accounts, and so are their counts), then
        digested: an identifier is whatever a client sends, up to a body's 2 MiB,
        and every failure kept it twice, so the bounded tables were bounded in
        entries but not in bytes. The digest also keeps an identifier from spelling
        another's address key (``alice`` NUL ``ip:…`` was the key of ``alice`` from
        that address, and failing as it locked that address out)."""
        folded = identifier.encode("utf-8", "surrogatepass").lower()
        key = hashlib.blake2b(folded, digest_size=16).hexdigest()
        return key, f"{key} {source}"

    async def admit(self, identifier: str, source: str = "") -> None:
        """Return once the attempt may check its password (it then counts as pending
        until :meth:`settle`), or raise ``account_locked``: the address is locked, or
        the identifier is and the address is not one it logged in from, or too many
        attempts already wait. A wait cancelled (the client went away) leaves
        nothing behind: the attempt is counted only when it is let through."""
        everyone, here = self._keys(identifier, source)
        while not self._decide(everyone, here):
            waiting = self._waiting.setdefault(everyone, [])
            if len(waiting) >= LOCKOUT_WAITING_MAX:
                raise self._refusal()
            turn: defer.Deferred = defer.Deferred(lambda d: self._withdraw(everyone, d))
            waiting.append(turn)
            await turn

    def _withdraw(self, everyone: str, turn: defer.Deferred) -> None:
        waiting = self._waiting.get(everyone, [])
        if turn in waiting:
            waiting.remove(turn)
            if not waiting:
                del self._waiting[everyone]

    def _decide(self, everyone: str, here: str) -> bool:
        """Admit (counted as pending: True) or wait (False), or raise ``account_locked``."""
        if self._locked(here):
            raise self._refusal()
        if self._locked(everyone):
            known = self._known.get(here)
            if known is None or self._clock.seconds() - known >= LOCKOUT_KNOWN_FOR:
                raise self._refusal()
            # Locked for the guessers already: only this address's own count applies.
            room = self._room(here, LOCKOUT_THRESHOLD)
        else:
            room = self._room(here, LOCKOUT_THRESHOLD) and self._room(
                everyone, LOCKOUT_THRESHOLD_ALL
            )
        if room:
            for key in (everyone, here):
                self._pending[key] = self._pending.get(key, 0) + 1
        return room

    def _refusal(self) -> LairError:
        return LairError("account_locked", self._message)

    def _locked(self, key: str) -> bool:
        until = self._locked_until.get(key)
        if until is None:
            return False
        if self._clock.seconds() < until:
            return True
        del self._locked_until[key]
        return False

    def _room(self, key: str, threshold: int) -> bool:
        """Whether one more attempt stays under ``threshold`` even if every pending
        one fails."""
        return self._recent(key) + self._pending.get(key, 0) + 1 <= threshold

    def settle(self, identifier: str, source: str = "", ok: bool | None = None) -> None:
        """The attempt :meth:`admit` let through has ended: ``ok`` True (the password
        was right), False (a failure, counted), None (it erred: nothing counted).
        Then the attempts waiting on the identifier are decided again."""
        everyone, here = self._keys(identifier, source)
        for key in (everyone, here):
            pending = self._pending.pop(key, 1) - 1
            if pending:
                self._pending[key] = pending
        if ok is False:
            self._failed(everyone, here)
        elif ok:
            # Forget the address's failures; those from other addresses still count.
            self._failures.pop(here, None)
            now = self._clock.seconds()
            self._known.pop(here, None)
            self._known[here] = now
            forget_expired(self._known, lambda _, since: now - since >= LOCKOUT_KNOWN_FOR)
            forget_oldest(self._known, LOCKOUT_TRACKED_MAX)
        self._wake(everyone)

    def _wake(self, everyone: str) -> None:
        """Let the attempts waiting on the identifier decide again (each that must
        still wait queues again; one woken may settle, and wake, before the next)."""
        for turn in self._waiting.pop(everyone, ()):
            if not turn.called:
                turn.callback(None)

    def _recent(self, key: str) -> int:
        return len(self._within_window(self._failures.get(key, ())))

    def _within_window(self, times: Iterable[float]) -> list[float]:
        now = self._clock.seconds()
        return [t for t in times if now - t < LOCKOUT_WINDOW]

    def _failed(self, everyone: str, here: str) -> None:
        self._count(everyone, LOCKOUT_THRESHOLD_ALL)
        self._count(here, LOCKOUT_THRESHOLD)
        # Both tables are bounded: identifiers and addresses cost an attacker little
        # (unknown identifiers are counted and locked too, so that a lockout reveals
        # no account). Locks all last LOCKOUT_DURATION, so the first inserted is the
        # first to expire. Counts whose last failure left the window, and locks that
        # ended, are dropped first: they no longer count.
        now = self._clock.seconds()
        forget_expired(self._failures, lambda _, times: now - times[-1] >= LOCKOUT_WINDOW)
        forget_expired(self._locked_until, lambda _, until: now >= until)
        forget_oldest(self._failures, LOCKOUT_TRACKED_MAX)
        forget_oldest(self._locked_until, LOCKOUT_TRACKED_MAX)

    def _count(self, key: str, threshold: int) -> None:
        now = self._clock.seconds()
        recent = self._within_window(self._failures.pop(key, ()))
        recent.append(now)
        if len(recent) >= threshold:
            self._locked_until.pop(key, None)
            self._locked_until[key] = now + LOCKOUT_DURATION
        else:
            self._failures[key] = recent


class AuthService:
    def __init__(self, store: IStore, hub: Hub, clock, passwords: Passwords, tokens: Tokens):
        self.store = store
        self.hub = hub
        self.clock = clock
        self.passwords = passwords
        self.tokens = tokens
        self.lockout = Lockout(clock)
        #: Wrong current passwords given to change-password, per user and session:
        #: a stolen token must not be a way to guess the password.
        self.password_checks = Lockout(
            clock, "Password change locked: too many wrong current passwords"
        )
        #: The second factor a login asks for, ``(user, code, source) -> ok``: None
        #: when the user has none, else whether ``code`` was accepted; it may raise
        #: (``totp_required``) (lairchat.core.twofactor; None: never asked).
        self.second_factor: Callable[[User, str | None, str], Awaitable[bool | None]] | None = None

    async def _new_session(
        self,
        user: User,
        checked: str | None = None,
        seen: Seen | None = None,
        without_totp: bool = False,
    ) -> AuthResult:
        """A session for ``user``, unless a ban is in force: a ban landing after the
        login checked for one (it ends the sessions there are, not one made after)
        must not leave the banned user a session. With ``checked``, the password
        hash a login was checked against, only if it is still the user's: a password
        changed while the check ran (:meth:`set_password` has already ended the
        sessions) must not let the old password in. ``without_totp``: a login that
        found no second factor, only if the user has still none: its ``enable`` ends
        the sessions stored before it, and one stored after would outlive it, made
        with the password alone (then ``totp_required``). All checked by the insert
        itself; the reason is looked up only when it refused. ``seen``: the client,
        as kept for the listing."""
        now = self.clock.seconds()
        seen = seen or Seen()
        session = Session(
            new_id(),
            user.id,
            now,
            now + SESSION_LIFETIME,
            ip_address=seen.address,
            user_agent=seen.user_agent,
        )
        if await self.store.create_session(session, checked, without_totp) is None:
            await self.check_not_banned(user.id)
            if without_totp and self.second_factor is not None:
                await self.second_factor(user, None, "")  # totp_required if on now
            raise LairError("invalid_credentials")
        self.hub.set_name(user.id, user.username)
        return AuthResult(user, session, self.tokens.issue(user, session))

    @deferred
    async def register(
        self, username: str, email: str, password: str, seen: Seen | None = None
    ) -> AuthResult:
        validation.check_username(username)
        email = validation.check_email(email)
        validation.check_password(password)
        # A name that looks like a user's (``аdmin``, Cyrillic а, beside ``admin``) is
        # taken, as is one like a name being registered now: reserved before the first
        # wait, so that of two look-alikes registered at once one is refused.
        lookalikes = self.hub.lookalikes
        reservation = lookalikes.reserve(username)
        try:
            # Cheap uniqueness checks before the expensive hash; the insert checks
            # again. (A valid username has no "@" and a valid email has one, so
            # neither lookup can match the other column.)
            if await self.store.find_user_by_login(username) is not None:
                raise LairError("username_taken")
            # Users another process made (lairchat admin create-user while the
            # server runs) are unknown here: learn them (all, the first time), and
            # let the insert's transaction check the few made after that.
            lookalikes.learn(await self.store.users_after(lookalikes.since))
            if not lookalikes.alone(reservation):
                raise LairError("username_taken")
            learned = lookalikes.since  # not later: others may learn more meanwhile
            if await self.store.find_user_by_login(email) is not None:
                raise LairError("email_taken")
            now = self.clock.seconds()
            user = User(new_id(), username, email, "user", now, now)
            user.password_hash = await self.passwords.hash(password)
        except BaseException:
            lookalikes.release(reservation)
            raise
        try:
            check = functools.partial(lookalike.check_unlike, username)
            await self.store.create_user(user, learned, check)
        except LairError as e:
            if e.code in ("username_taken", "email_taken"):  # refused: nothing stored
                lookalikes.release(reservation)
            # Else (a storage fault, or cancelled) the user may have been stored: the
            # name stays reserved, rather than free for a look-alike, until a restart.
            raise
        lookalikes.settle(reservation, user.id)
        return await self._new_session(user, seen=seen)

    @deferred
    async def login(
        self,
        identifier: str,
        password: str,
        source: str = "",
        seen: Seen | None = None,
        totp: str | None = None,
    ) -> AuthResult:
        """``source``: the client's address key (``ratelimit.address_key``), which the
        lockout counts failures by; ``seen``: the client, kept with the session;
        ``totp``: the second factor (a code or a recovery code), for an account that
        has it on (:attr:`second_factor`)."""
        second = self.second_factor
        verdicts: list[bool | None] = []

        async def check(found: User) -> bool:
            verdicts.append(await second(found, totp, source))
            return verdicts[-1] is not False

        user = await self._attempt(
            identifier,
            source,
            lambda: self.store.find_user_by_login(identifier),
            password,
            None if second is None else check,
        )
        # A ban is checked by the session's insert (and named if it refused), as is a
        # second factor turned on while this login ran.
        return await self._new_session(user, user.password_hash, seen, verdicts == [None])

    @deferred
    async def confirm(
        self,
        user: User,
        password: str | None,
        source: str = "",
        second: Callable[[User], Awaitable[bool]] | None = None,
    ) -> None:
        """``user``'s password, asked before an account's deletion, its export or a
        change of its second factor: a wrong or missing one is a failed login
        (``invalid_credentials``), counted by the login's lockout on the username
        from ``source`` (the client's address key), so that a stolen token is no way
        to guess the password. ``second``, as :meth:`_attempt`'s."""
        await self._attempt(
            user.username, source, lambda: self.store.get_user(user.id), password, second
        )

    @deferred
    async def confirm_signed_in(
        self, user: User, password: str | None, code: str | None, source: str = ""
    ) -> None:
        """:meth:`confirm`, and for an account with a second factor
        (:attr:`second_factor`) ``code`` too, refused as a login refuses it: 401
        ``totp_required`` without one (nothing counted), ``invalid_totp`` for a wrong
        or used one (counted as a login's). Asked before an account's own deletion and
        its export: a stolen token and a phished password are not enough."""
        second = self.second_factor
        if second is None:
            return await self.confirm(user, password, source)

        async def check(found: User) -> bool:
            return await second(found, code, source) is not False

        await self.confirm(user, password, source, check)

    async def _attempt(
        self,
        identifier: str,
        source: str,
        find: Callable[[], Awaitable[User | None]],
        password: str | None,
        second: Callable[[User], Awaitable[bool]] | None = None,
    ) -> User:
        """One attempt counted by the login lockout on ``identifier`` from ``source``:
        the user ``find()`` fires with, once ``password`` is theirs and then
        ``second(user)``, the second factor, says True. A wrong password is
        ``invalid_credentials`` and a second factor refused ``invalid_totp``, both
        failed logins; ``second`` may raise instead (``totp_required``), which counts
        nothing: it is asked only once the password is right."""
        await self.lockout.admit(identifier, source)
        ok, refusal = None, "invalid_credentials"
        try:
            user = await find()
            hashed = user.password_hash if user else None
            ok = await self.passwords.verify(hashed, password or "") and user is not None
            if ok and second is not None:
                ok, refusal = None, "invalid_totp"
                ok = await second(user)
        finally:
            self.lockout.settle(identifier, source, ok)
        if not ok:
            raise LairError(refusal)
        return user

    async def check_not_banned(self, user_id: str) -> None:
        if await self.is_banned(user_id):
            raise LairError("account_banned")

    @deferred
    async def is_banned(self, user_id: str) -> bool:
        """Whether a ban on the user is in force now."""
        ban = await self.store.get_ban(user_id)
        return ban is not None and ban.active(self.clock.seconds())

    @deferred
    async def authenticate(self, token: str) -> tuple[User, Session]:
        """The real-time ``authenticate``: its wire has no ``invalid_claims`` (that is
        the HTTP extractor's code); a non-UUID ``sub``/``sid`` is ``invalid_token``."""
        try:
            claims = self.tokens.decode(token)
        except LairError as e:
            if e.code != "invalid_claims":
                raise
            raise LairError(
                "invalid_token", "Invalid token: invalid user or session ID in token"
            ) from None
        try:
            return await self.validate(claims)
        except LairError as e:
            if e.code == "session_not_found":
                # A ban deletes the user's sessions: tell the token's own holder, so
                # that a client reconnecting with it can say why it is logged out.
                await self.check_not_banned(claims.user_id)
            raise

    def _expired(self, session: Session) -> bool:
        return self.clock.seconds() > session.expires_at

    @deferred
    async def validate(self, claims: Claims) -> tuple[User, Session]:
        session = await self.store.get_session(claims.session_id)
        if session is None:
            raise LairError("session_not_found")
        if self._expired(session):
            await self.store.delete_session(session.id)
            raise LairError("session_expired")
        user = await self.store.get_user(session.user_id)
        if user is None:
            raise LairError("user_not_found")
        await self._used(session)
        # An account the operator command made while the server ran is news to the
        # hub: its presence events would name it by id.
        self.hub.set_name(user.id, user.username)
        return user, session

    async def _used(self, session: Session) -> None:
        """Renew the session's ``last_active_at`` (every check of its token is a use:
        each authenticated request, each real-time ``authenticate``), at most once
        per :data:`LAST_ACTIVE_EVERY`. A storage fault here is logged by the store
        and does not fail the request: the time is for the listing only."""
        now = self.clock.seconds()
        last = session.created_at if session.last_active_at is None else session.last_active_at
        if now - last < LAST_ACTIVE_EVERY:
            return
        try:
            await self.store.touch_session(session.id, now, LAST_ACTIVE_EVERY)
        except LairError as e:
            if not already_logged(e):
                raise

    def logout(self, session_id: str) -> defer.Deferred:
        """Delete the session and close every live connection that used it."""

        def revoked(existed: bool) -> bool:
            self.hub.close_session(session_id, "logged out")
            return existed

        return self.store.delete_session(session_id).addCallback(revoked)

    @deferred
    async def sessions(
        self, user: User, limit: int | None = None, offset: int = 0
    ) -> tuple[list[Session], bool]:
        """The user's live sessions, newest first, a page of ``limit`` (at most
        :data:`SESSIONS_LISTED_MAX`) after ``offset``, and whether there are more: so
        that a user can find a session they do not recognize (a stolen token) and end
        it alone (:meth:`end_session`)."""
        size = paging.bounded(limit, SESSIONS_LISTED_MAX)
        now = self.clock.seconds()
        found = await self.store.list_user_sessions(user.id, now, size + 1, offset)
        for session in found:
            # A session with a TCP or WebSocket connection open is in use now: its
            # connection's frames renew nothing stored (the send path stays as lean).
            if self.hub.session_user(session.id) is not None:
                session.last_active_at = int(now)  # whole seconds, as stored
        return paging.split(found, size)

    @deferred
    async def end_session(self, user: User, session_id: str) -> None:
        """End one of the user's own live sessions exactly as its :meth:`logout` would
        (its tokens refused, its connections closed), the caller's own included; an
        id that is not a live session of the user's: :func:`unknown_session`. Before
        this, only a password change could cut off a stolen token, and it ended every
        other session with it. (A session's owner never changes, so reading it first
        leaves no race but its ending meanwhile, which the logout tells.)"""
        session = await self.store.get_session(session_id)
        if session is None or session.user_id != user.id or self._expired(session):
            raise unknown_session()
        if not await self.logout(session.id):
            raise unknown_session()

    def refresh(self, user: User, session: Session) -> dict:
        """A new token for the same session and the same expiry (nothing is extended)."""
        return {
            "token": self.tokens.issue(user, session),
            "expires_at": ts_plus(session.expires_at),
        }

    @deferred
    async def change_password(
        self, user: User, current: str, new: str, session_id: str | None = None
    ) -> None:
        """Change the password, once the current one is given, and end every other
        session of the user (see :meth:`set_password`): after a suspected compromise,
        changing the password must lock the intruder out. The original kept them;
        ``session_id``, the caller's own, is kept."""
        source = session_id or ""
        await self.password_checks.admit(user.id, source)
        ok = None
        try:
            stored = await self.store.get_user(user.id)
            ok = stored is not None and await self.passwords.verify(stored.password_hash, current)
        finally:
            self.password_checks.settle(user.id, source, ok)
        if not ok:
            raise LairError("incorrect_password")
        await self.set_password(user.id, new, keep=session_id, checked=stored.password_hash)

    @deferred
    async def set_password(
        self,
        user_id: str,
        new: str,
        keep: str | None = None,
        checked: str | None = None,
        audit: AuditEntry | None = None,
    ) -> list[str]:
        """Set a new password (by the password rules) and end every session of the user
        but ``keep``; return the ids of those ended. Their live connections here get
        ``session_not_found``, then close; a running server closes those of sessions
        ended by another process (the operator command) within seconds
        (:mod:`lairchat.revocation`).

        With ``checked``, the hash the current password was verified against, only
        if it is still the user's (else ``incorrect_password``): of two changes at
        once, one checked against the old password must not be stored over the other
        (an intruder's over the owner's). ``audit``: the audit log's entry (the
        operator's reset), written with the change."""
        validation.check_password(new)
        # One transaction: a password changed with the sessions left open would lock
        # no intruder out, and the error answered would say nothing was changed.
        new_hash, now = await self.passwords.hash(new), self.clock.seconds()
        ended = await self.store.update_password(user_id, new_hash, now, keep, checked, audit)
        if ended is None:
            raise LairError("incorrect_password")
        self.end_sessions(ended, "password changed", "Session ended: the password was changed")
        return ended

    def end_sessions(self, ended: list[str], reason: str, message: str) -> None:
        """Close the live connections here of the sessions ``ended`` (ids, deleted in
        storage already), each told ``session_not_found`` with ``message`` first;
        ``reason`` is for the log. Another process's are closed within seconds
        (:mod:`lairchat.revocation`)."""
        notice = LairError("session_not_found", message)
        for session_id in ended:
            self.hub.close_session(session_id, reason, notice)
