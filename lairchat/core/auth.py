"""Authentication: registration, login with lockout, sessions, tokens, bans.

A token is valid only while its server-side session exists: logout, a ban or expiry
revoke it at once on every transport (the hub closes live connections).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from twisted.internet import defer

from lairchat.core.bounded import forget_oldest
from lairchat.core.deferreds import deferred
from lairchat.core.hub import Hub
from lairchat.core.passwords import Passwords
from lairchat.core.tokens import Claims, Tokens
from lairchat.domain import validation
from lairchat.domain.errors import LairError
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


@dataclass(slots=True)
class AuthResult:
    user: User
    session: Session
    token: str

    def to_wire(self) -> dict:
        return {"user": self.user.to_wire(), "session": self.session.to_wire(), "token": self.token}


class Lockout:
    """Counts failed logins in memory (a restart forgets them), per identifier and
    client address, and per identifier alone.

    Counted per identifier alone, anyone could lock a known user out by failing five
    times. Counted per address, failures lock out only the address they come from,
    and the user still logs in from theirs; a guesser with many addresses meets the
    higher threshold for all of them together, which locks the identifier for
    everyone (SECURITY.md)."""

    def __init__(self, clock, message: str = "Account locked: too many failed login attempts"):
        """``message``: the ``account_locked`` error's, for what the lockout guards."""
        self._clock = clock
        self._message = message
        self._failures: dict[str, list[float]] = {}
        self._locked_until: dict[str, float] = {}
        #: Attempts let through whose password check has not ended, per key: they
        #: count as failures until it does (at most the concurrent requests).
        self._pending: dict[str, int] = {}

    @staticmethod
    def _keys(identifier: str, source: str) -> tuple[str, str]:
        """The identifier's key, and the key of the identifier from ``source`` (a
        NUL cannot be in an address key)."""
        key = identifier.lower()
        return key, f"{key}\0{source}"

    def check(self, identifier: str, source: str = "") -> None:
        """Refuse a locked identifier or address, or one whose attempts still being
        checked would lock it if they failed; else count this attempt as one of
        those until :meth:`release`. Without that, attempts sent together (from many
        connections) all passed before the first failure was counted."""
        keys = self._keys(identifier, source)
        for key, threshold in zip(keys, (LOCKOUT_THRESHOLD_ALL, LOCKOUT_THRESHOLD), strict=True):
            until = self._locked_until.get(key)
            if until is not None:
                if self._clock.seconds() < until:
                    raise LairError("account_locked", self._message)
                del self._locked_until[key]
            pending = self._pending.get(key)
            if pending and self._recent(key) + pending >= threshold:
                raise LairError("account_locked", self._message)
        for key in keys:
            self._pending[key] = self._pending.get(key, 0) + 1

    def release(self, identifier: str, source: str = "") -> None:
        """The attempt :meth:`check` let through has been checked (or has failed for
        another reason): then :meth:`failed` or :meth:`succeeded` says how it went."""
        for key in self._keys(identifier, source):
            pending = self._pending.pop(key, 1) - 1
            if pending:
                self._pending[key] = pending

    def _recent(self, key: str) -> int:
        return len(self._within_window(self._failures.get(key, ())))

    def _within_window(self, times: Iterable[float]) -> list[float]:
        now = self._clock.seconds()
        return [t for t in times if now - t < LOCKOUT_WINDOW]

    def failed(self, identifier: str, source: str = "") -> None:
        everyone, here = self._keys(identifier, source)
        self._count(everyone, LOCKOUT_THRESHOLD_ALL)
        self._count(here, LOCKOUT_THRESHOLD)
        # Both tables are bounded: identifiers and addresses cost an attacker little
        # (unknown identifiers are counted and locked too, so that a lockout reveals
        # no account). Locks all last LOCKOUT_DURATION, so the first inserted is the
        # first to expire.
        forget_oldest(self._failures, LOCKOUT_TRACKED_MAX)
        forget_oldest(self._locked_until, LOCKOUT_TRACKED_MAX)

    def _count(self, key: str, threshold: int) -> None:
        now = self._clock.seconds()
        recent = self._within_window(self._failures.pop(key, ()))
        recent.append(now)
        if len(recent) >= threshold:
            self._locked_until[key] = now + LOCKOUT_DURATION
        else:
            self._failures[key] = recent

    def succeeded(self, identifier: str, source: str = "") -> None:
        """Forget the address's failures; those from other addresses still count."""
        self._failures.pop(self._keys(identifier, source)[1], None)


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

    async def _new_session(self, user: User, checked: str | None = None) -> AuthResult:
        """A session for ``user``, unless a ban is in force: a ban landing after the
        login checked for one (it ends the sessions there are, not one made after)
        must not leave the banned user a session. With ``checked``, the password
        hash a login was checked against, only if it is still the user's: a password
        changed while the check ran (:meth:`set_password` has already ended the
        sessions) must not let the old password in."""
        now = self.clock.seconds()
        session = Session(new_id(), user.id, now, now + SESSION_LIFETIME)
        if await self.store.create_session(session, checked) is None:
            await self.check_not_banned(user.id)
            raise LairError("invalid_credentials")
        self.hub.set_name(user.id, user.username)
        return AuthResult(user, session, self.tokens.issue(user, session))

    @deferred
    async def register(self, username: str, email: str, password: str) -> AuthResult:
        validation.check_username(username)
        email = validation.check_email(email)
        validation.check_password(password)
        # Cheap uniqueness checks before the expensive hash; the insert checks again.
        # (A valid username has no "@" and a valid email has one, so neither lookup
        # can match the other column.)
        if await self.store.find_user_by_login(username) is not None:
            raise LairError("username_taken")
        if await self.store.find_user_by_login(email) is not None:
            raise LairError("email_taken")
        now = self.clock.seconds()
        user = User(new_id(), username, email, "user", now, now)
        user.password_hash = await self.passwords.hash(password)
        await self.store.create_user(user)
        return await self._new_session(user)

    @deferred
    async def login(self, identifier: str, password: str, source: str = "") -> AuthResult:
        """``source``: the client's address key (``ratelimit.address_key``), which the
        lockout counts failures by."""
        self.lockout.check(identifier, source)
        try:
            user = await self.store.find_user_by_login(identifier)
            ok = await self.passwords.verify(user.password_hash if user else None, password)
        finally:
            self.lockout.release(identifier, source)
        if not ok or user is None:
            self.lockout.failed(identifier, source)
            raise LairError("invalid_credentials")
        self.lockout.succeeded(identifier, source)
        await self.check_not_banned(user.id)
        return await self._new_session(user, user.password_hash)

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

    @deferred
    async def validate(self, claims: Claims) -> tuple[User, Session]:
        session = await self.store.get_session(claims.session_id)
        if session is None:
            raise LairError("session_not_found")
        if self.clock.seconds() > session.expires_at:
            await self.store.delete_session(session.id)
            raise LairError("session_expired")
        user = await self.store.get_user(session.user_id)
        if user is None:
            raise LairError("user_not_found")
        # An account the operator command made while the server ran is news to the
        # hub: its presence events would name it by id.
        self.hub.set_name(user.id, user.username)
        return user, session

    def logout(self, session_id: str) -> defer.Deferred:
        """Delete the session and close every live connection that used it."""

        def revoked(existed: bool) -> bool:
            self.hub.close_session(session_id, "logged out")
            return existed

        return self.store.delete_session(session_id).addCallback(revoked)

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
        self.password_checks.check(user.id, source)
        try:
            stored = await self.store.get_user(user.id)
            ok = stored is not None and await self.passwords.verify(stored.password_hash, current)
        finally:
            self.password_checks.release(user.id, source)
        if not ok:
            self.password_checks.failed(user.id, source)
            raise LairError("incorrect_password")
        await self.set_password(user.id, new, keep=session_id)

    @deferred
    async def set_password(self, user_id: str, new: str, keep: str | None = None) -> list[str]:
        """Set a new password (by the password rules) and end every session of the user
        but ``keep``; return the ids of those ended. Their live connections here get
        ``session_not_found``, then close; a running server closes those of sessions
        ended by another process (the operator command) within seconds
        (:mod:`lairchat.revocation`)."""
        validation.check_password(new)
        # One transaction: a password changed with the sessions left open would lock
        # no intruder out, and the error answered would say nothing was changed.
        ended = await self.store.update_password(
            user_id, await self.passwords.hash(new), self.clock.seconds(), keep
        )
        notice = LairError("session_not_found", "Session ended: the password was changed")
        for session_id in ended:
            self.hub.close_session(session_id, "password changed", notice)
        return ended
