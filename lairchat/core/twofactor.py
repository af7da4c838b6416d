"""Two-factor sign-in: setting it up, turning it on and off, and the check a login
makes (docs/SECURITY.md, "Two-factor sign-in"; docs/protocols/HTTP.md, "Two-factor
sign-in (TOTP)"). The arithmetic is :mod:`lairchat.domain.totp`; the rows are the
store's (migration 014).

The secret is stored sealed (:class:`SecretBox`): AES-256-GCM under a key derived
from the token secret, which the server keeps apart from the database, so that a
copy of the database alone gives out no codes.
"""

from __future__ import annotations

import os
from dataclasses import replace
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from twisted.logger import Logger

from lairchat.core.auth import AuthService, Lockout
from lairchat.core.deferreds import deferred
from lairchat.domain import totp
from lairchat.domain.audit import AuditEntry
from lairchat.domain.errors import LairError
from lairchat.domain.types import User

log = Logger()

#: What the sealing key is derived from the token secret for (a new label, a new key).
KEY_LABEL = b"lairchat two-factor secrets v1"
NONCE_BYTES = 12


class SecretBox:
    """Seals TOTP secrets for storage: AES-256-GCM, a random nonce first, the
    account's id as associated data (a sealed secret copied to another account's
    row does not open)."""

    def __init__(self, key: bytes):
        self._aead = AESGCM(key)

    def seal(self, user_id: str, secret: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, secret, user_id.encode("ascii"))

    def open(self, user_id: str, sealed: bytes) -> bytes | None:
        """The secret, or None: sealed under another key (the token secret changed
        since), or not this account's."""
        try:
            return self._aead.decrypt(
                sealed[:NONCE_BYTES], sealed[NONCE_BYTES:], user_id.encode("ascii")
            )
        except (InvalidTag, ValueError):
            return None


class TwoFactor:
    """A user's second factor, over the auth service: its password checks, lockout,
    and the ending of sessions."""

    def __init__(self, auth: AuthService):
        self.auth = auth
        self.store = auth.store
        self.clock = auth.clock
        self.box = SecretBox(auth.tokens.derive(KEY_LABEL))
        #: Wrong codes given to :meth:`enable`, per user and session, as
        #: change-password counts wrong current passwords.
        self.code_checks = Lockout(auth.clock, "Two-factor sign-in locked: too many wrong codes")
        #: Wrong codes given after the right password (a login, :meth:`disable`), per
        #: account and address: the login's lockout counts per identifier, and the
        #: username and the email are two (each its own 5 and 25).
        self.guesses = Lockout(auth.clock)

    @deferred
    async def status(self, user_id: str) -> dict[str, Any]:
        """What ``GET /users/me`` says of it: for the user themself only."""
        state = await self.store.totp_of(user_id)
        on = state is not None and state[1]
        return {"enabled": on, "recovery_codes_left": state[2] if on else 0}

    @deferred
    async def enabled(self, user_id: str) -> bool:
        state = await self.store.totp_of(user_id)
        return state is not None and state[1]

    @deferred
    async def at_login(self, user: User, code: str | None, source: str = "") -> bool | None:
        """The second factor of a login whose password was right: None if the user
        has none; with it on, ``totp_required`` without a code (or with spaces
        only), else whether ``code`` is a current code or an unused recovery code
        (and it is used up). ``source``: the client's address key."""
        state = await self.store.totp_of(user.id)
        if state is None or not state[1]:
            return None
        if not totp.tidy(code or ""):
            raise LairError("totp_required")
        return await self._accept(user.id, state[0], code, source)

    async def _accept(self, user_id: str, sealed: bytes, code: str, source: str) -> bool:
        """Whether ``code`` is one of the user's, used up if it is: an authenticator's
        code of a step after the last one used, or an unused recovery code. Counted
        by :attr:`guesses` (``account_locked`` past its limits)."""
        await self.guesses.admit(user_id, source)
        ok = None
        try:
            code = totp.tidy(code)
            if totp.looks_like_totp(code):
                step = self._step(user_id, sealed, code)
                ok = step is not None and await self.store.use_totp_step(user_id, step)
            else:
                hashed = totp.recovery_hash(user_id, code)
                ok = hashed is not None and await self.store.use_recovery_code(user_id, hashed)
        finally:
            self.guesses.settle(user_id, source, ok)
        return ok

    def _step(self, user_id: str, sealed: bytes, code: str) -> int | None:
        key = self.box.open(user_id, sealed)
        if key is None:
            log.warn(
                "two-factor secret of {user_id} cannot be read (the token secret changed"
                " since it was set up?): only its recovery codes sign in",
                user_id=user_id,
            )
            return None
        return totp.matching_step(key, code, self.clock.seconds())

    @deferred
    async def setup(self, user: User, password: str | None, source: str = "") -> dict[str, Any]:
        """A new secret, not in force until :meth:`enable`, once the password is given
        (checked as for deleting the account)."""
        await self.auth.confirm(user, password, source)
        secret = totp.new_secret()
        sealed = self.box.seal(user.id, secret)
        await self.store.put_totp_secret(user.id, sealed, self.clock.seconds())
        return {
            "secret": totp.base32(secret),
            "otpauth_uri": totp.otpauth_uri(user.username, secret),
            "enabled": False,
        }

    @deferred
    async def enable(self, user: User, code: str | None, session_id: str) -> dict[str, Any]:
        """Turn it on with a current code of the secret set up, end the user's other
        sessions, and answer the recovery codes (only their hashes are kept)."""
        state = await self.store.totp_of(user.id)
        if state is not None and state[1]:
            raise LairError("totp_already_enabled")
        if state is None:
            raise LairError("totp_not_set_up")
        await self.code_checks.admit(user.id, session_id)
        step = None
        try:
            step = self._step(user.id, state[0], totp.tidy(code or ""))
        finally:
            self.code_checks.settle(user.id, session_id, step is not None)
        if step is None:
            raise LairError("invalid_totp")
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_hash(user.id, c) for c in codes]
        now = self.clock.seconds()
        ended = await self.store.enable_totp(user.id, state[0], step, hashes, now, session_id)
        if ended is None:  # another setup replaced the secret meanwhile, or enabled it
            raise LairError(
                "totp_already_enabled" if await self.enabled(user.id) else "totp_not_set_up"
            )
        self.auth.end_sessions(
            ended, "two-factor sign-in turned on", "Session ended: two-factor sign-in was turned on"
        )
        return {"enabled": True, "recovery_codes": codes}

    @deferred
    async def disable(
        self, user: User, password: str | None, code: str | None, source: str, session_id: str
    ) -> dict[str, Any]:
        """Turn it off, once the password and a code (or a recovery code) are given
        (:meth:`_confirm`); end the user's other sessions."""
        await self._confirm(user, password, code, source)
        ended = await self.store.disable_totp(user.id, session_id)
        if ended is None:  # turned off meanwhile
            raise LairError("totp_not_enabled")
        self.auth.end_sessions(
            ended,
            "two-factor sign-in turned off",
            "Session ended: two-factor sign-in was turned off",
        )
        return {"enabled": False}

    async def _confirm(self, user: User, password: str | None, code: str | None, source: str):
        """The password and then a code (or a recovery code), each a login's attempt
        for the lockout: ``totp_not_enabled`` (once the password is right) if it is
        not on."""

        async def second(stored: User) -> bool:
            state = await self.store.totp_of(stored.id)
            if state is None or not state[1]:
                raise LairError("totp_not_enabled")
            return bool(code) and await self._accept(stored.id, state[0], code, source)

        await self.auth.confirm(user, password, source, second)

    @deferred
    async def new_recovery_codes(
        self, user: User, password: str | None, code: str | None, source: str = ""
    ) -> dict[str, Any]:
        """Ten new recovery codes, answered once, in place of the unused ones (gone in
        the same write), once the password and a code are given as for
        :meth:`disable`. Sessions are not touched: nothing that signs in changed but
        the codes, and the old ones sign nothing in any more."""
        await self._confirm(user, password, code, source)
        codes = totp.new_recovery_codes()
        hashes = [totp.recovery_hash(user.id, c) for c in codes]
        if not await self.store.replace_recovery_codes(user.id, hashes):
            raise LairError("totp_not_enabled")  # turned off meanwhile
        return {"recovery_codes": codes}

    @deferred
    async def reset(
        self, user: User, audit: AuditEntry | None = None
    ) -> tuple[bool, list[str]] | None:
        """The operator's: turn it off for a user who lost the device, and end all
        their sessions, or clear a setup never turned on (no session ended; recorded
        with ``"pending_setup": true`` in its details). ``(True, ids ended)``,
        ``(False, [])`` for a setup cleared, None if there was neither (nothing
        recorded)."""
        pending = None if audit is None else replace(audit, details={"pending_setup": True})
        outcome = await self.store.reset_totp(user.id, audit, pending)
        if outcome is not None and outcome[0]:
            self.auth.end_sessions(
                outcome[1],
                "two-factor sign-in reset",
                "Session ended: two-factor sign-in was turned off",
            )
        return outcome
