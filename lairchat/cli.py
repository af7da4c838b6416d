"""lairchat: operator tasks against the database named by LAIR_DATABASE_URL.

Safe while the server runs: SQLite serialises the writes (busy timeout), and every
change goes through the same core services as the server's own.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from lairchat.config import ConfigError, database_path
from lairchat.core.deferreds import result, run_now
from lairchat.core.services import Core
from lairchat.domain.errors import LairError
from lairchat.domain.types import Ban
from lairchat.revocation import CHECK_INTERVAL
from lairchat.storage.sqlite import migrate
from lairchat.storage.sqlite.pool import ImmediatePool, connect
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.tls import write_dev_certificate

#: The operator command signs no token anyone receives; the core still needs a key.
UNUSED_TOKEN_SECRET = "the-operator-command-never-hands-out-tokens"


class WallClock:
    """The one ``IReactorTime.seconds`` the operator command needs, outside a reactor."""

    def seconds(self) -> float:
        return time.time()


def open_core(path: str) -> Core:
    pool = ImmediatePool(path)
    migrate.migrate(pool.connection)
    store = SQLiteStore(pool, pool, path)
    core = Core.build(store, WallClock(), UNUSED_TOKEN_SECRET, run_now)
    result(core.load())
    return core


def find_user(core: Core, username: str) -> Any:
    user = result(core.store.find_user_by_login(username))
    if user is None or user.username.lower() != username.lower():
        raise LairError("user_not_found", f"no user named {username!r}")
    return user


def cmd_set_role(core: Core, args: argparse.Namespace) -> str:
    user = find_user(core, args.username)
    updated = result(core.users.set_role(user.id, args.role))
    return f"{updated.username} is now {updated.role}"


def cmd_create_user(core: Core, args: argparse.Namespace) -> str:
    password = args.password or os.environ.get("LAIR_NEW_PASSWORD") or getpass.getpass()
    created = result(core.auth.register(args.username, args.email, password))
    if args.role != "user":
        result(core.users.set_role(created.user.id, args.role))
    return f"created {created.user.username} ({created.user.id}) as {args.role}"


def cmd_list_users(core: Core, args: argparse.Namespace) -> str:
    lines, offset = [], 0
    while True:
        users, more = result(core.users.list(100, offset, None))
        lines += [f"{u.id}  {u.role:<9}  {u.username}  <{u.email}>" for u in users]
        offset += len(users)
        if not more or not users:
            return "\n".join(lines) or "(no users)"


def cmd_ban(core: Core, args: argparse.Namespace) -> str:
    user = find_user(core, args.username)
    now = time.time()
    expires = None if args.hours is None else now + args.hours * 3600
    result(core.store.put_ban(Ban(user.id, args.reason, None, now, expires)))
    sessions = result(core.store.delete_user_sessions(user.id))
    until = "permanently" if expires is None else f"for {args.hours} h"
    # The server holds live connections' sessions in memory; it checks them against
    # the database every few seconds (lairchat.revocation).
    return (
        f"banned {user.username} {until}; {len(sessions)} session(s) revoked"
        f" (a running server closes their connections within {CHECK_INTERVAL:g} s)"
    )


def cmd_unban(core: Core, args: argparse.Namespace) -> str:
    user = find_user(core, args.username)
    lifted = result(core.store.delete_ban(user.id))
    return f"unbanned {user.username}" if lifted else f"{user.username} was not banned"


def cmd_migrate(path: str) -> str:
    conn = connect(path)
    try:
        applied = migrate.migrate(conn)
    finally:
        conn.close()
    return f"applied: {', '.join(applied)}" if applied else "database is up to date"


def cmd_backup(path: str, target: str) -> str:
    """SQLite's online backup: a consistent copy even while the server writes."""
    source = connect(path)
    dest = sqlite3.connect(target)
    try:
        source.backup(dest)
    finally:
        dest.close()
        source.close()
    return f"backed up {path} to {target}"


def cmd_restore(path: str, backup: str) -> str:
    """Copy ``backup`` over the database, through SQLite (its WAL included), then
    bring its schema up to date. Stop the server first: it keeps state in memory."""
    if not os.path.isfile(backup):
        raise ConfigError(f"{backup}: no such backup file")
    source = sqlite3.connect(Path(backup).resolve().as_uri() + "?mode=ro", uri=True)
    try:
        try:
            recorded = {row[0] for row in source.execute("SELECT name FROM _migrations")}
        except sqlite3.DatabaseError:
            recorded = set()
        if not recorded:
            raise ConfigError(f"{backup}: not a lairchat database (no migrations recorded)")
        unknown = sorted(recorded - {name for name, _ in migrate.available()})
        if unknown:  # checked before anything is overwritten
            raise ConfigError(
                f"{backup}: made by a newer lairchat (migrations {', '.join(unknown)})"
            )
        dest = connect(path)
        try:
            source.backup(dest)
            upgraded = migrate.migrate(dest)
        finally:
            dest.close()
    finally:
        source.close()
    done = f"restored {path} from {backup}"
    return f"{done}; applied: {', '.join(upgraded)}" if upgraded else done


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lairchat", description=__doc__.splitlines()[0])
    p.add_argument("--database-url", help="overrides LAIR_DATABASE_URL")
    groups = p.add_subparsers(dest="group", required=True)

    admin = groups.add_parser("admin", help="users, roles and bans").add_subparsers(
        dest="command", required=True
    )
    c = admin.add_parser("set-role", help="set a user's system role")
    c.add_argument("username")
    c.add_argument("role", choices=["admin", "moderator", "user"])
    c.set_defaults(run=cmd_set_role)
    c = admin.add_parser("create-user", help="create an account")
    c.add_argument("username")
    c.add_argument("email")
    c.add_argument("--password", help="default: $LAIR_NEW_PASSWORD or a prompt")
    c.add_argument("--role", choices=["admin", "moderator", "user"], default="user")
    c.set_defaults(run=cmd_create_user)
    c = admin.add_parser("list-users", help="list every account")
    c.set_defaults(run=cmd_list_users)
    c = admin.add_parser("ban", help="ban a user and revoke their sessions")
    c.add_argument("username")
    c.add_argument("--reason")
    c.add_argument("--hours", type=float, help="default: permanent")
    c.set_defaults(run=cmd_ban)
    c = admin.add_parser("unban", help="lift a ban")
    c.add_argument("username")
    c.set_defaults(run=cmd_unban)

    certs = groups.add_parser("certs", help="TLS certificates").add_subparsers(
        dest="command", required=True
    )
    c = certs.add_parser("dev", help="write a self-signed certificate for localhost")
    c.add_argument("--dir", default="certs", help="default: ./certs")

    db = groups.add_parser("db", help="database maintenance").add_subparsers(
        dest="command", required=True
    )
    db.add_parser("migrate", help="apply pending schema migrations")
    c = db.add_parser("backup", help="write a consistent copy of the database")
    c.add_argument("path")
    c = db.add_parser("restore", help="replace the database with a backup (server stopped)")
    c.add_argument("backup")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        path = database_path(os.environ, args.database_url)
        if args.group == "certs":
            cert, key = write_dev_certificate(args.dir)
            print(f"wrote {cert} and {key} (self-signed, for localhost and 127.0.0.1)")
            return 0
        if args.group == "db":
            if args.command == "migrate":
                out = cmd_migrate(path)
            elif args.command == "backup":
                out = cmd_backup(path, args.path)
            else:
                out = cmd_restore(path, args.backup)
        else:
            out = args.run(open_core(path), args)
    except (ConfigError, LairError, migrate.SchemaTooNew, sqlite3.Error) as e:
        message = e.message if isinstance(e, LairError) else str(e)
        print(f"lairchat: {message}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
