"""The first administrator, from the environment.

With ``LAIR_ADMIN_USERNAME`` and ``LAIR_ADMIN_PASSWORD`` set (and optionally
``LAIR_ADMIN_EMAIL``), every start makes sure that account exists and is an admin:
it is registered like any user (same rules, argon2id hash) or, if it exists and
``LAIR_ADMIN_PASSWORD`` is its password, promoted (anyone may have registered the
name first). An existing account's password and email are left alone: the variables
only seed the first start. Runs synchronously before the reactor, on one connection.
"""

from __future__ import annotations

import sqlite3
from typing import Any

from lairchat.core.audit import record
from lairchat.core.deferreds import result, run_now
from lairchat.core.services import Core
from lairchat.domain.errors import LairError
from lairchat.domain.types import User
from lairchat.storage.sqlite.faults import StorageFault
from lairchat.storage.sqlite.pool import ImmediatePool
from lairchat.storage.sqlite.store import SQLiteStore

#: This core signs no token anyone receives; it still needs a key.
UNUSED_TOKEN_SECRET = "the-admin-bootstrap-never-hands-out-tokens"
#: The address of a bootstrapped admin without LAIR_ADMIN_EMAIL (.invalid: RFC 2606).
DEFAULT_EMAIL_DOMAIN = "lairchat.invalid"


class BootstrapError(Exception):
    """The account cannot be made; str() is one line naming the variable to fix."""


class _OnConnection(ImmediatePool):
    """ImmediatePool's transactions on a connection the caller owns (and closes)."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def close(self) -> None:
        pass


def _variable(error: LairError) -> str:
    for prefix, name in (
        ("username", "LAIR_ADMIN_USERNAME"),
        ("email", "LAIR_ADMIN_EMAIL"),
        ("password", "LAIR_ADMIN_PASSWORD"),
    ):
        if error.code.startswith(prefix):
            return name
    return "LAIR_ADMIN_USERNAME"


def ensure_admin(
    connection: sqlite3.Connection,
    clock: Any,
    username: str,
    password: str,
    email: str | None = None,
) -> str:
    """Create or promote the admin; return what was done, for the log (no secrets)."""
    pool = _OnConnection(connection)
    core = Core.build(SQLiteStore(pool, pool), clock, UNUSED_TOKEN_SECRET, run_now)
    try:
        user = result(core.store.find_user_by_login(username))
        if user is not None and user.username.lower() == username.lower():
            if user.role == "admin":
                return f"admin account {user.username} is present"
            if not result(core.auth.passwords.verify(user.password_hash, password)):
                # Anyone may have taken the name first (a public server, a database
                # moved from Lair Chat): only the operator's own account is promoted.
                raise BootstrapError(
                    f"LAIR_ADMIN_USERNAME: an account named {user.username} exists and"
                    " LAIR_ADMIN_PASSWORD is not its password: not promoted (if the"
                    f" account is yours: lairchat admin set-role {user.username} admin)"
                )
            entry = record(None, "user.set_role", user, clock.seconds(), role="admin")
            result(core.users.set_role(user.id, "admin", entry))
            return f"existing account {user.username} promoted to admin"
        address = email or f"{username.lower()}@{DEFAULT_EMAIL_DOMAIN}"
        created = create_account(core, username, address, password, "admin")
    except StorageFault:
        raise  # the database's fault, not the variables': the start names the database
    except LairError as e:
        message = f"{_variable(e)}: cannot create the admin account: {e.message}"
        raise BootstrapError(message) from None
    return f"admin account {created.username} created"


def create_account(core: Core, username: str, email: str, password: str, role: str) -> User:
    """Register an account for the operator (here, or ``lairchat admin create-user``):
    the same rules and argon2id hash as any registration, then ``role``. The session
    register() opens is deleted: nobody holds its token, and it would otherwise count
    as a live session (e.g. in what a ban reports revoked). Recorded in the audit
    log, by the operator, once done."""
    created = result(core.auth.register(username, email, password))
    result(core.store.delete_session(created.session.id))
    user = created.user
    if role != "user":
        user = result(core.users.set_role(user.id, role))
    result(core.store.add_audit(record(None, "user.create", user, core.clock.seconds(), role=role)))
    return user
