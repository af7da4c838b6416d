"""lairchat: operator tasks against the database named by LAIR_DATABASE_URL.

Safe while the server runs: SQLite serialises the writes (busy timeout), and every
change goes through the same core services as the server's own. What would put a
running server out of step with its database, which it partly keeps in memory
(``db restore``, applying migrations), is refused while a server has the database
open (:mod:`lairchat.storage.sqlite.lock`).

Exit status: 0 done, 1 refused or failed (one line on stderr), 2 a usage error (as
argparse's own: an invalid argument, no password to be had).
"""

from __future__ import annotations

import argparse
import getpass
import os
import re
import secrets
import shlex
import sqlite3
import sys
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import orjson
from twisted.internet import defer

import lairchat
from lairchat.bootstrap import create_account
from lairchat.config import (
    MEMORY_DATABASE,
    ConfigError,
    database_path,
    owner_and_mode,
    retention_days,
    running_user,
    unreachable,
)
from lairchat.core import audit, retention
from lairchat.core.admin import (
    BAN_HOURS_RULE,
    BAN_REASON_MAX,
    ban_reason_problem,
    check_ban_hours,
)
from lairchat.core.deferreds import result, run_now
from lairchat.core.deletion import WATCH_INTERVAL
from lairchat.core.services import Core
from lairchat.domain.audit import ACTIONS, AuditEntry
from lairchat.domain.errors import LairError
from lairchat.domain.hidden import one_line
from lairchat.domain.timefmt import ts
from lairchat.domain.types import Ban
from lairchat.revocation import CHECK_INTERVAL
from lairchat.storage.sqlite import lock, migrate
from lairchat.storage.sqlite.faults import DatabaseFileChanged, StorageFault, log_check
from lairchat.storage.sqlite.pool import ImmediatePool, connect
from lairchat.storage.sqlite.store import SQLiteStore
from lairchat.tls import write_dev_certificate

#: The operator command signs no token anyone receives; the core still needs a key.
UNUSED_TOKEN_SECRET = "the-operator-command-never-hands-out-tokens"


class WallClock:
    """The one ``IReactorTime.seconds`` the operator command needs, outside a reactor."""

    def seconds(self) -> float:
        return time.time()


class UsageError(Exception):
    """What the operator must give differently: exit status 2, like argparse's errors."""


def connect_to(path: str) -> sqlite3.Connection:
    """The database, or a ConfigError naming it (SQLite's own message does not).

    A database this command creates (``db restore`` or ``admin create-user`` on a new
    path) is created readable by its owner only, whatever the umask: it will hold
    password hashes, as a backup does (SQLite gives its -wal and -shm files the same
    mode)."""
    with suppress(OSError):  # it exists; or it cannot: SQLite will say why
        create_owner_only(path)
    try:
        return connect(path)
    except sqlite3.Error as e:
        raise ConfigError(f"cannot open database {path}: {e}{whose(path)}") from None


def whose(path: str) -> str:
    """`` (for nobody: owned by lairchat:lairchat, mode 0600)`` when this user may not
    write the database, else nothing: SQLite's "attempt to write a readonly
    database" or "unable to open database file" does not say that the command ran
    as the wrong user, nor as whom it should run."""
    try:
        if os.access(path, os.R_OK | os.W_OK):
            return ""
        return f" (for {running_user()}: {owner_and_mode(path)})"
    except OSError:
        return ""


def must_exist(path: str) -> None:
    """ConfigError unless the database file exists, for the commands that need one.

    Opening a missing file creates it: a typo in LAIR_DATABASE_URL made a new, empty
    database, which ``admin list-users`` showed as ``(no users)`` and ``db backup``
    (the daily backup unit's command) backed up with status 0, its ``--keep``
    removing the real backups one a day."""
    if path == MEMORY_DATABASE:
        return
    blocked = unreachable(path)
    if blocked is not None:
        raise ConfigError(f"cannot open database {path}: {blocked}")
    if not os.path.exists(path):
        raise ConfigError(
            f"cannot open database {path}: no such file (a new one is made only by the"
            " server's start, admin create-user, db migrate or db restore)"
        )


def beside_a_server(path: str, create: bool = False) -> sqlite3.Connection:
    """:func:`connect_to` for a command that may run while a server has the database
    (one that exists, unless ``create``):
    refused if the server lost the index of its write-ahead log (``-shm`` deleted).
    Its connections go on with the index they share; a connection from here would
    build another one, with locks of its own, and two writers at once destroy the
    database (faults.log_check). Without a server, a log without its index is what
    a crash can leave, and SQLite rebuilds the index safely."""
    if not create:
        must_exist(path)
    try:
        lock.exclusive(path).release()
    except lock.DatabaseBusy:
        try:
            log_check(path)()
        except DatabaseFileChanged as e:
            raise ConfigError(str(e)) from None
    except OSError:
        pass  # no lock file to be had, so no server either: connect_to says the rest
    return connect_to(path)


def served(path: str, doing: str) -> ConfigError:
    """The refusal of what a running server must not have done under it."""
    return ConfigError(f"{path} is open by a running lairchat server: stop it before {doing}")


def alone(path: str, doing: str) -> lock.Held:
    """The database held alone for ``doing``, or the refusal if a server has it."""
    try:
        return lock.exclusive(path)
    except lock.DatabaseBusy:
        raise served(path, doing) from None


def recorded_migrations(conn: sqlite3.Connection) -> set[str]:
    """The migrations a database says it has (none: not a lairchat database). What
    keeps it from being read at all (not a database, cannot be opened) is raised, not
    taken for "none"."""
    try:
        return {row[0] for row in conn.execute("SELECT name FROM _migrations")}
    except sqlite3.OperationalError as e:
        if not str(e).startswith("no such table"):
            raise
        return set()


def bring_up_to_date(conn: sqlite3.Connection, path: str) -> list[str]:
    """Apply pending migrations; return their names. A running server knows only the
    schema it started with, so with one running, pending migrations are refused (the
    server's own start applies them) and only the check for a newer schema is made."""
    try:
        held = lock.exclusive(path)
    except lock.DatabaseBusy:
        pending = [n for n, _ in migrate.available() if n not in recorded_migrations(conn)]
        if pending:
            raise served(path, f"applying migrations {', '.join(pending)}") from None
        return migrate.migrate(conn)  # nothing to apply; SchemaTooNew if newer
    with held:
        return migrate.migrate(conn)


def open_store(path: str, create: bool = False) -> SQLiteStore:
    pool = ImmediatePool(connection=beside_a_server(path, create))
    bring_up_to_date(pool.connection, path)
    return SQLiteStore(pool, pool, path)


def open_core(path: str, create: bool = False) -> Core:
    core = Core.build(open_store(path, create), WallClock(), UNUSED_TOKEN_SECRET, run_now)
    result(core.load())
    return core


def find_user(core: Core, username: str) -> Any:
    user = result(core.store.find_user_by_login(username))
    if user is None or user.username.lower() != username.lower():
        raise LairError("user_not_found", f"no user named {username!r}")
    return user


def cmd_set_role(core: Core, args: argparse.Namespace) -> str:
    user = find_user(core, args.username)
    entry = audit.record(None, "user.set_role", user, core.clock.seconds(), role=args.role)
    updated = result(core.users.set_role(user.id, args.role, entry))
    return f"{updated.username} is now {updated.role}"


def new_password(args: argparse.Namespace) -> str:
    """``--password``, ``$LAIR_NEW_PASSWORD``, or asked twice on the terminal. Without
    one, getpass would read stdin (a script's, maybe /dev/null) after a warning."""
    given = args.password or os.environ.get("LAIR_NEW_PASSWORD")
    if given:
        return given
    if not sys.stdin.isatty():
        raise UsageError(
            "no terminal to ask for a password: pass --password or set LAIR_NEW_PASSWORD"
        )
    try:
        password = getpass.getpass(f"Password for {args.username}: ")
        again = getpass.getpass("Again, to be sure: ")
    except EOFError:
        raise UsageError("no password given") from None
    if password != again:
        raise UsageError("the two passwords differ; nothing was done")
    return password


def cmd_create_user(core: Core, args: argparse.Namespace) -> str:
    user = create_account(core, args.username, args.email, new_password(args), args.role)
    return f"created {user.username} ({user.id}) as {user.role}"


def cmd_list_users(core: Core, args: argparse.Namespace) -> str:
    """One line per account; what users and admins typed (emails, ban reasons) with
    every control and invisible character shown as a mark (:func:`one_line`)."""
    lines, offset = [], 0
    now = time.time()
    while True:
        users, more = result(core.users.list(100, offset, None))
        for u in users:
            ban = result(core.store.get_ban(u.id))
            banned = f"  {banned_until(ban)}" if ban is not None and ban.active(now) else ""
            second = "  [two-factor]" if result(core.two_factor.enabled(u.id)) else ""
            line = f"{u.id}  {u.role:<9}  {u.username}  <{u.email}>{banned}{second}"
            lines.append(one_line(line))
        offset += len(users)
        if not more or not users:
            return "\n".join(lines) or "(no users)"


def banned_until(ban: Ban) -> str:
    """A ban in force, in list-users: after ``admin ban`` nothing there showed it,
    and an operator could see who was banned only by trying ``unban`` on each."""
    until = "permanently" if ban.expires_at is None else f"until {ts(int(ban.expires_at))}"
    return f"[banned {until}{f': {ban.reason}' if ban.reason else ''}]"


def revoked(sessions: list[str]) -> str:
    """What ending sessions from here does to their live connections."""
    # The server holds live connections' sessions in memory; it checks them against
    # the database every few seconds (lairchat.revocation).
    return (
        f"{len(sessions)} session(s) revoked"
        f" (a running server closes their connections within {CHECK_INTERVAL:g} s)"
    )


def cmd_ban(core: Core, args: argparse.Namespace) -> str:
    user = find_user(core, args.username)
    expires, sessions = result(core.admin.impose_ban(user, args.reason, None, args.hours))
    until = "permanently" if expires is None else f"for {args.hours:g} h"
    return f"banned {user.username} {until}; {revoked(sessions)}"


def cmd_reset_password(core: Core, args: argparse.Namespace) -> str:
    """For a user who forgot their password (there is no reset by email): a new one,
    given or generated, and every session of the user ended."""
    user = find_user(core, args.username)
    password = secrets.token_urlsafe(12) if args.generate else new_password(args)
    entry = audit.record(None, "user.reset_password", user, core.clock.seconds())
    sessions = result(core.auth.set_password(user.id, password, audit=entry))
    told = f"; the new password is {password}" if args.generate else ""
    return f"password of {user.username} reset{told}; {revoked(sessions)}"


def cmd_reset_2fa(core: Core, args: argparse.Namespace) -> str:
    """For a user who lost the device and the recovery codes: two-factor sign-in
    turned off (its secret and codes deleted) and every session of the user ended;
    they sign in with the password alone, and may turn it on again. A setup begun
    and never turned on is cleared, and said to be."""
    user = find_user(core, args.username)
    entry = audit.record(None, "user.reset_2fa", user, core.clock.seconds())
    outcome = result(core.two_factor.reset(user, entry))
    if outcome is None:
        return f"two-factor sign-in was not on for {user.username}: nothing changed"
    if not outcome[0]:
        return (
            f"two-factor sign-in was set up for {user.username} but never turned on:"
            " the setup is cleared (it was not in force; no session ended)"
        )
    return f"two-factor sign-in of {user.username} turned off; {revoked(outcome[1])}"


def cmd_delete_user(core: Core, args: argparse.Namespace) -> str:
    """Delete an account for good (docs/SECURITY.md, "Deleting an account"). With a
    server running, only the first step is done here (sessions, password,
    invitations; the account marked): the server, which keeps the rooms' members in
    memory and must tell them, finishes within seconds (DeletionWatcher). Without
    one, all of it, the database held meanwhile so that none starts halfway."""
    user = find_user(core, args.username)
    now = core.clock.seconds()
    entry = audit.record(None, "user.delete", user, now)
    try:
        held = lock.exclusive(core.store.path)
    except lock.DatabaseBusy:
        sessions = result(core.store.begin_deletion(user.id, now, audit=entry))
        return (
            f"deleting {user.username}: {revoked(sessions)}; the running server hands its"
            f" rooms over within {WATCH_INTERVAL:g} s, then erases its messages and the account"
        )
    with held:
        core.deletion.pause = pause_here
        ended = result(core.deletion.delete(user.id, wait=True, audit=entry))
    return (
        f"deleted {user.username}: {ended} session(s) ended, its rooms handed over,"
        " its messages erased; the name is free"
    )


def cmd_unban(core: Core, args: argparse.Namespace) -> str:
    user = find_user(core, args.username)
    lifted = result(core.admin.lift_ban(user, None))
    return f"unbanned {user.username}" if lifted else f"{user.username} was not banned"


#: The most entries ``admin audit --limit`` prints.
AUDIT_MOST = 100000


def cmd_audit(core: Core, args: argparse.Namespace) -> str:
    """The audit log, newest first, one entry a line; read from the database, so
    with or without a server running. ``--user``: entries by or about the user of
    that name, then (a deleted account's too)."""
    entries, more = result(
        audit.page(core.store, args.limit, action=args.action, name=args.user, largest=AUDIT_MOST)
    )
    lines = [audit_line(e) for e in entries] or ["(no entries)"]
    if more:
        lines.append(f"(older entries not shown: --limit more than {len(entries)})")
    return "\n".join(lines)


def audit_line(entry: AuditEntry) -> str:
    """Time, actor, action, subject, details; what users and admins typed (names, a
    ban's reason) with every control and invisible character shown as a mark."""
    actor = "operator" if entry.actor_id is None else f"{entry.actor_name} ({entry.actor_id})"
    subject = f"{entry.subject_type} {entry.subject_name} ({entry.subject_id})"
    details = " ".join(f"{k}={orjson.dumps(v).decode()}" for k, v in entry.details.items())
    line = f"{ts(entry.at)}  {actor}  {entry.action}  {subject}"
    return one_line(f"{line}  {details}" if details else line)


def cmd_migrate(path: str) -> str:
    conn = connect_to(path)
    try:
        applied = bring_up_to_date(conn, path)
    finally:
        conn.close()
    return f"applied: {', '.join(applied)}" if applied else "database is up to date"


def create_owner_only(path: str) -> None:
    """Create ``path`` empty, readable by its owner only (mode 0600, whatever the
    umask); FileExistsError if it exists."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def create_private(target: str, force: bool) -> None:
    """Create ``target`` empty and readable by its owner only, as a backup holds
    password hashes; an existing file is replaced only if ``force``."""
    try:
        if force:
            with suppress(FileNotFoundError):
                os.unlink(target)
        create_owner_only(target)
    except FileExistsError:
        raise ConfigError(f"{target} exists: pass --force to replace it") from None


def refuse_the_database_itself(path: str, other: str) -> None:
    """ConfigError if ``other`` is the database file under any name (the same path
    written differently, a symbolic or a hard link): a backup over it, or a restore
    from it, would copy the database onto itself."""
    if all(map(os.path.exists, (other, path))) and os.path.samefile(other, path):
        raise ConfigError(f"{other} is the database itself")


def check_whole(conn: sqlite3.Connection, path: str, otherwise: str) -> None:
    """ConfigError if the database ``path`` (open as ``conn``) is damaged; the error
    ends with ``otherwise``, what was not done. SQLite's backup copies pages as they
    are: a damaged database made a damaged backup with status 0 (the daily backups'
    ``--keep`` then replacing the good ones with it, one a day), and a damaged backup
    was restored over a good database. ``quick_check`` reads the file once (not an
    index against its table: that is ``integrity_check``, much slower)."""
    problems = [row[0] for row in conn.execute("PRAGMA quick_check(1)")]
    if problems != ["ok"]:
        first = " ".join(problems[0].replace("*** in database main ***", "").split())
        raise ConfigError(f"{path} is damaged ({first}): {otherwise}")


def cmd_backup(path: str, target: str, force: bool = False) -> str:
    """SQLite's online backup: a consistent copy even while the server writes."""
    refuse_the_database_itself(path, target)
    source = beside_a_server(path)
    try:
        create_private(target, force)
        try:
            dest = sqlite3.connect(target)
            try:
                source.backup(dest)
                check_whole(dest, path, "no backup written")
            finally:
                dest.close()
        except BaseException:
            os.unlink(target)  # no half-written backup left to be trusted
            raise
    finally:
        source.close()
    return f"backed up {path} to {target}"


def pause_here() -> defer.Deferred:
    """:func:`retention.prune`'s pause between two batches, outside a reactor: the
    running server's message writer takes the write lock meanwhile."""
    time.sleep(retention.PAUSE)
    return defer.succeed(None)


def cmd_prune(path: str, days: int) -> str:
    """Delete messages older than ``days`` days, as the server's retention does."""
    store = open_store(path)
    try:
        before = retention.cutoff(time.time(), days)
        deleted = result(retention.prune(store, before, pause_here))
    finally:
        store.close()
    when = ts(int(before))
    return f"deleted {deleted} message(s) older than {days} day(s) (created before {when})"


#: The files ``db backup --into`` writes, and the only ones its ``--keep`` removes.
DATED_BACKUP = re.compile(r"lair-chat-\d{4}-\d{2}-\d{2}\.db")


def remove_beside(backup: str) -> None:
    """What SQLite left beside a backup someone opened (its -wal, -shm, -journal)."""
    for suffix in ("-wal", "-shm", "-journal"):
        with suppress(FileNotFoundError):
            os.unlink(backup + suffix)


def cmd_backup_into(path: str, directory: str, keep: int, day: str | None = None) -> str:
    """``directory/lair-chat-YYYY-MM-DD.db`` (``day``, default today, local time):
    written beside as a partial file, then renamed over a backup of the same day,
    so that a failed run never leaves less than there was. Then only the ``keep``
    newest such files are kept (scheduled backups: contrib/systemd)."""
    if not os.path.isdir(directory):
        raise ConfigError(f"{directory}: no such directory")
    name = f"lair-chat-{day or time.strftime('%Y-%m-%d')}.db"
    target = os.path.join(directory, name)
    partial = os.path.join(directory, f".{name}.partial")
    cmd_backup(path, partial, force=True)
    remove_beside(target)  # another file's -wal beside the new one would be read into it
    os.replace(partial, target)
    older = sorted(n for n in os.listdir(directory) if DATED_BACKUP.fullmatch(n) and n != name)
    removed = older[: max(0, len(older) - (keep - 1))]
    for old in removed:
        os.unlink(os.path.join(directory, old))
        remove_beside(os.path.join(directory, old))
    return f"backed up {path} to {target}; removed {len(removed)} older backup(s), keeping {keep}"


def read_only_uri(path: str) -> str:
    """A URI that opens ``path`` without creating or changing any file beside it.

    ``mode=ro`` alone still creates (and leaves) ``-wal`` and ``-shm`` files beside a
    database in WAL mode, as ``db backup`` makes them, and cannot open one at all in a
    directory it may not write. ``immutable=1`` reads the file as it stands, without
    locks or WAL: right for a backup at rest. It would miss the commits in a ``-wal``
    beside the file (a database copied with its WAL, or still open), and a ``-journal``
    means an interrupted write: with either there, the file is read through SQLite's
    locks (``mode=ro``), which reads the WAL and refuses a hot journal."""
    resolved = Path(path).resolve()
    uri = f"{resolved.as_uri()}?mode=ro"
    if any(os.path.exists(f"{resolved}{suffix}") for suffix in ("-wal", "-journal")):
        return uri
    return f"{uri}&immutable=1"


def open_backup(backup: str) -> sqlite3.Connection:
    """``backup``, read-only, once it is known to be a lairchat database that this
    lairchat understands: checked before anything is overwritten."""
    if not os.path.isfile(backup):
        raise ConfigError(f"{backup}: no such backup file")
    try:
        source = sqlite3.connect(read_only_uri(backup), uri=True)
        try:
            recorded = recorded_migrations(source)
            if recorded:
                check_whole(source, backup, "nothing restored")
        except BaseException:
            source.close()
            raise
    except sqlite3.Error as e:
        raise ConfigError(f"{backup}: {e}") from None
    unknown = sorted(recorded - {name for name, _ in migrate.available()})
    if recorded and not unknown:
        return source
    source.close()
    if not recorded:
        raise ConfigError(f"{backup}: not a lairchat database (no migrations recorded)")
    raise ConfigError(f"{backup}: made by a newer lairchat (migrations {', '.join(unknown)})")


def cmd_restore(path: str, backup: str) -> str:
    """Copy ``backup`` over the database, through SQLite (its WAL included), then
    bring its schema up to date. Refused while a server has the database open: it
    keeps state in memory, which would no longer match."""
    refuse_the_database_itself(path, backup)
    source = open_backup(backup)
    try:
        with alone(path, "restoring"):
            dest = connect_to(path)
            try:
                source.backup(dest)
                upgraded = migrate.migrate(dest)
            finally:
                dest.close()
    finally:
        source.close()
    done = f"restored {path} from {backup}"
    return f"{done}; applied: {', '.join(upgraded)}" if upgraded else done


def older_than(text: str) -> int:
    """``--older-than``, by the rule of LAIR_MESSAGE_RETENTION_DAYS."""
    try:
        return retention_days(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"{e}, got {text}") from None


#: How many dated backups ``db backup --into`` keeps unless ``--keep`` says.
DEFAULT_KEEP = 14


def count_to(most: int) -> Any:
    """The parser of an option that counts, from 1 to ``most``."""

    def parse(text: str) -> int:
        if not text.strip().isdigit() or not 1 <= int(text) <= most:
            raise argparse.ArgumentTypeError(f"must be an integer from 1 to {most}, got {text}")
        return int(text)

    return parse


#: ``--keep``: how many dated backups ``db backup --into`` leaves.
backups_kept = count_to(100000)
#: ``--limit``: how many entries ``admin audit`` prints.
audit_limit = count_to(AUDIT_MOST)


def ban_hours(text: str) -> float:
    """``--hours``, held to the API's rule on ``duration_hours``."""
    try:
        return check_ban_hours(float(text))
    except (ValueError, LairError):
        raise argparse.ArgumentTypeError(f"{BAN_HOURS_RULE}, got {text}") from None


def ban_reason(text: str) -> str:
    """``--reason``, held to the API's bound."""
    if problem := ban_reason_problem(text):
        raise argparse.ArgumentTypeError(problem)
    return text


def database_option(p: argparse.ArgumentParser, default: Any) -> None:
    p.add_argument(
        "--database-url",
        metavar="URL",
        default=default,
        help="sqlite:PATH; overrides LAIR_DATABASE_URL (before or after the command)",
    )


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="lairchat", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"lairchat {lairchat.__version__}")
    database_option(p, None)
    groups = p.add_subparsers(dest="group", required=True)
    # After the command too: SUPPRESS, or the command's default would replace a
    # --database-url given before it.
    on_database = argparse.ArgumentParser(add_help=False)
    database_option(on_database, argparse.SUPPRESS)

    def command(group: Any, name: str, help: str) -> argparse.ArgumentParser:
        return group.add_parser(name, help=help, parents=[on_database])

    admin = groups.add_parser("admin", help="users, roles and bans").add_subparsers(
        dest="command", required=True
    )
    c = command(admin, "set-role", "set a user's system role")
    c.add_argument("username")
    c.add_argument("role", choices=["admin", "moderator", "user"])
    c.set_defaults(run=cmd_set_role)
    c = command(admin, "create-user", "create an account")
    c.add_argument("username")
    c.add_argument("email")
    c.add_argument(
        "--password", help="default: $LAIR_NEW_PASSWORD, else asked twice on the terminal"
    )
    c.add_argument("--role", choices=["admin", "moderator", "user"], default="user")
    c.set_defaults(run=cmd_create_user, creates=True)
    c = command(admin, "list-users", "list every account")
    c.set_defaults(run=cmd_list_users)
    c = command(admin, "ban", "ban a user and revoke their sessions")
    c.add_argument("username")
    c.add_argument("--reason", type=ban_reason, help=f"at most {BAN_REASON_MAX} bytes")
    c.add_argument("--hours", type=ban_hours, help=f"{BAN_HOURS_RULE}; default: permanent")
    c.set_defaults(run=cmd_ban)
    c = command(admin, "reset-password", "set a new password and end the user's sessions")
    c.add_argument("username")
    given = c.add_mutually_exclusive_group()
    given.add_argument(
        "--password", help="default: $LAIR_NEW_PASSWORD, else asked twice on the terminal"
    )
    given.add_argument("--generate", action="store_true", help="make one up and print it")
    c.set_defaults(run=cmd_reset_password)
    c = command(admin, "reset-2fa", "turn off a user's two-factor sign-in, ending their sessions")
    c.add_argument("username")
    c.set_defaults(run=cmd_reset_2fa)
    c = command(admin, "delete-user", "delete an account, its messages and DMs, for good")
    c.add_argument("username")
    c.set_defaults(run=cmd_delete_user)
    c = command(admin, "unban", "lift a ban")
    c.add_argument("username")
    c.set_defaults(run=cmd_unban)
    c = command(admin, "audit", "show the admin audit log, newest first")
    c.add_argument(
        "--limit",
        metavar="N",
        type=audit_limit,
        default=audit.DEFAULT_LIMIT,
        help=f"at most N entries (default: {audit.DEFAULT_LIMIT})",
    )
    c.add_argument("--action", choices=ACTIONS, help="only this action")
    c.add_argument("--user", metavar="NAME", help="only entries by or about the user named NAME")
    c.set_defaults(run=cmd_audit)

    certs = groups.add_parser("certs", help="TLS certificates").add_subparsers(
        dest="command", required=True
    )
    c = certs.add_parser("dev", help="write a self-signed certificate for localhost")
    c.add_argument("--dir", default="certs", help="default: ./certs")

    db = groups.add_parser("db", help="database maintenance").add_subparsers(
        dest="command", required=True
    )
    command(db, "migrate", "apply pending schema migrations (refused under a running server)")
    c = command(db, "backup", "write a consistent copy of the database (mode 0600)")
    where = c.add_mutually_exclusive_group(required=True)
    where.add_argument("path", metavar="PATH", nargs="?")
    where.add_argument(
        "--into",
        metavar="DIR",
        help="write DIR/lair-chat-YYYY-MM-DD.db (today's, replaced if there) instead of PATH,"
        " and remove the oldest such files beyond --keep",
    )
    c.add_argument("--force", action="store_true", help="replace PATH if it exists")
    c.add_argument(
        "--keep", metavar="N", type=backups_kept, help=f"with --into (default: {DEFAULT_KEEP})"
    )
    c = command(db, "restore", "replace the database with a backup (server stopped)")
    c.add_argument("backup")
    c = command(db, "prune", "delete messages older than DAYS days (safe while the server runs)")
    c.add_argument(
        "--older-than",
        metavar="DAYS",
        type=older_than,
        required=True,
        help="created more than DAYS days ago, 1 to 36500 (as LAIR_MESSAGE_RETENTION_DAYS)",
    )
    for commands in (groups, admin, certs, db):
        name_the_choices(commands)
    return p


def name_the_choices(commands: Any) -> None:
    """A missing command is named by its choices, as the usage line shows them:
    ``lairchat`` alone said ``the following arguments are required: group`` (and
    ``lairchat admin``, ``...: command``), words the help shows nowhere."""
    commands.metavar = "{" + ",".join(commands.choices) + "}"


def run(args: argparse.Namespace) -> str:
    """Do the command; return what to print."""
    if args.group == "certs":
        cert, key = write_dev_certificate(args.dir)
        return dev_certificate_written(str(cert), str(key))
    path = database_path(os.environ, args.database_url)
    try:
        return on_database(args, path)
    except StorageFault as e:  # its message is SQLite's, which names no file
        raise ConfigError(f"{path}: {e.message}") from None


def dev_certificate_written(cert: str, key: str) -> str:
    """What ``certs dev`` did, and the next steps: it used to say only which files it
    wrote, and how a server uses them, and a client trusts them, was in
    certs/README.md, which someone following README.md never opens."""
    cert_q, key_q = shlex.quote(cert), shlex.quote(key)
    return (
        f"wrote {cert} and {key} (self-signed, for localhost and 127.0.0.1)\n"
        "serve HTTPS and WSS with them (add LAIR_TCP_TLS=on for the TCP port too):\n"
        f"  LAIR_TLS_ENABLED=true LAIR_TLS_CERT_PATH={cert_q} LAIR_TLS_KEY_PATH={key_q}"
        " twistd -n --pidfile= lairchat\n"
        f"and have clients trust the certificate: curl --cacert {cert_q} https://localhost:8082/health,"
        f" lairchat-client --websocket --tls --ca-file {cert_q}"
    )


def on_database(args: argparse.Namespace, path: str) -> str:
    """Do a command on the database ``path``; return what to print."""
    if args.group == "admin":
        return args.run(open_core(path, getattr(args, "creates", False)), args)
    if args.command == "migrate":
        return cmd_migrate(path)
    if args.command == "backup" and args.into is not None:
        if args.force:
            raise UsageError("--force goes with PATH")
        return cmd_backup_into(path, args.into, args.keep or DEFAULT_KEEP)
    if args.command == "backup":
        if args.keep is not None:
            raise UsageError("--keep goes with --into DIR")
        return cmd_backup(path, args.path, args.force)
    if args.command == "prune":
        return cmd_prune(path, args.older_than)
    return cmd_restore(path, args.backup)


def describe(error: Exception) -> str:
    """One line for stderr; a file error names its file."""
    if isinstance(error, LairError):
        return error.message
    if isinstance(error, OSError) and error.filename is not None:
        return f"{error.filename}: {error.strerror}"
    return str(error)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        out = run(args)
    except UsageError as e:
        print(f"lairchat: {e}", file=sys.stderr)
        return 2
    except (ConfigError, LairError, migrate.SchemaError, sqlite3.Error, OSError) as e:
        print(f"lairchat: {describe(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # at a password prompt
        print(file=sys.stderr)
        return 130
    return say(out)


#: The status of a command ended by SIGPIPE, as a shell reports it (128 + 13).
READER_GONE = 141


def say(out: str) -> int:
    """Print ``out``; 0, or :data:`READER_GONE` if stdout's reader went away (``|
    head``): quietly, where the print raised BrokenPipeError, a traceback. stdout
    then goes to /dev/null, or the interpreter's flush at exit fails again."""
    try:
        print(out, flush=True)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return READER_GONE
    return 0


if __name__ == "__main__":
    sys.exit(main())
