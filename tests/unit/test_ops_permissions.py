"""A command run as the wrong user is told so, with the owner to run it as.

The service's files belong to its own user (contrib/systemd: ``/var/lib/lairchat``,
mode 0750, the database 0600), so an operator who forgets ``sudo -u lairchat``, or a
server tried out by hand as root before the service ever ran, meets files it may not
use. Each test runs the code in a child process that has dropped to ``nobody`` (root
itself may use every file, so permissions bite only on another user): it needs root
to drop privileges, as CI has.
"""

from __future__ import annotations

import contextlib
import io
import os
import pwd
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from lairchat import cli
from lairchat.config import ConfigError, Options, load_config, load_or_create_jwt_secret
from lairchat.lifecycle import hand_database_to

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")


def as_nobody(work: Callable[[], str]) -> str:
    """What ``work()`` returns (or the ``ConfigError`` it raises, as text), in a forked
    child run as ``nobody``. Everything it runs is imported before the fork: the child
    may not be able to read the interpreter's own directory."""
    nobody = pwd.getpwnam("nobody")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: never returns into pytest
        status = 1
        try:
            os.close(read)
            os.setgroups([])
            os.setgid(nobody.pw_gid)
            os.setuid(nobody.pw_uid)
            try:
                text = work()
            except ConfigError as e:
                text = f"ConfigError: {e}"
            os.write(write, text.encode())
            status = 0
        finally:
            os._exit(status)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, out
    return out


def lairchat(*argv: str) -> str:
    """``lairchat ARGV``: its exit status and what it wrote to stderr."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = cli.main(list(argv))
    return f"{status} {err.getvalue().strip()}"


def start(database: str) -> str:
    """The server's start-time check of its settings (``twistd lairchat``)."""
    options = Options()
    options.parseOptions([f"--database-url=sqlite:{database}"])
    load_config(options, {})
    return "started"


@pytest.fixture
def state() -> Iterator[Path]:
    """``/tmp/…/state``: as the service's state directory, owned by root here, mode
    0700; its parent may be entered by anyone (pytest's own tmp_path may not be)."""
    with tempfile.TemporaryDirectory(dir="/tmp") as top:
        os.chmod(top, 0o711)
        directory = Path(top) / "state"
        directory.mkdir(mode=0o700)
        yield directory


def a_database(path: Path) -> str:
    sqlite3.connect(path).close()
    return str(path)


def test_an_operator_command_the_state_directory_bars_is_not_told_no_such_file(state):
    """Found by running ``lairchat admin list-users`` as another user against the
    service's database: it said ``no such file``, and the operator looked for a
    wrong path instead of using ``sudo -u lairchat``."""
    database = a_database(state / "lair-chat.db")
    url = f"sqlite:{database}"
    said = as_nobody(lambda: lairchat("--database-url", url, "admin", "list-users"))
    assert said == (
        f"1 lairchat: cannot open database {database}: nobody may not enter {state}"
        " (owned by root:root, mode 0700); run this as the server's user"
    )


def test_a_server_the_state_directory_bars_is_told_who_may_enter_it(state):
    """It was told that the directory "is not writable", not that it may not be
    entered, nor by whom."""
    database = a_database(state / "lair-chat.db")
    said = as_nobody(lambda: start(database))
    assert said == (
        f"ConfigError: --database-url: cannot reach {database!r}: nobody may not enter"
        f" {state} (owned by root:root, mode 0700); run this as the server's user"
    )


def test_a_database_of_another_user_names_its_owner_at_the_start(state):
    """A database made by root (``lairchat admin create-user`` before the service's
    first start), then served by the service's user."""
    os.chmod(state, 0o777)
    database = a_database(state / "lair-chat.db")
    os.chmod(database, 0o600)
    said = as_nobody(lambda: start(database))
    assert said == (
        f"ConfigError: --database-url: database file {database!r} is not readable and"
        " writable by nobody (owned by root:root, mode 0600): run the server as its owner,"
        " or chown the database and the files beside it to the server's user"
    )


def test_a_secret_file_of_another_user_names_its_owner(state):
    """A server tried out as root first leaves ``<database>.jwt-secret`` (mode 0600)
    that the service's user may not read."""
    os.chmod(state, 0o777)
    database = str(state / "lair-chat.db")
    load_or_create_jwt_secret(database)  # as root
    said = as_nobody(lambda: load_or_create_jwt_secret(database))
    assert said == (
        f"ConfigError: LAIR_JWT_SECRET: not set, and the secret file '{database}.jwt-secret'"
        f" cannot be used: Permission denied for nobody ({database}.jwt-secret is owned by"
        " root:root, mode 0600)"
    )


def test_a_read_only_database_says_for_whom(state):
    """SQLite's "attempt to write a readonly database" names neither the user nor the
    owner."""
    os.chmod(state, 0o777)
    database = a_database(state / "lair-chat.db")
    os.chmod(database, 0o644)
    said = as_nobody(lambda: lairchat("--database-url", f"sqlite:{database}", "db", "migrate"))
    assert said.startswith(f"1 lairchat: cannot open database {database}: ")
    assert said.endswith(" (for nobody: owned by root:root, mode 0644)")


def test_with_uid_roots_database_files_go_to_the_servers_user(state):
    """``twistd --uid=lairchat --gid=lairchat``: the database, its JWT secret and
    its lock files are made as root, before twistd switches; they are handed to the
    server's user (the start wiring is in tests/integration/test_newuser_startup.py).
    Another user's file beside them is left as it is."""
    nobody = pwd.getpwnam("nobody")
    os.chmod(state, 0o777)
    database = a_database(state / "lair-chat.db")
    load_or_create_jwt_secret(database)
    Path(f"{database}.lock").touch()
    theirs = Path(f"{database}-wal")
    theirs.touch()
    os.chown(theirs, 1234, 1234)
    hand_database_to(database, (nobody.pw_uid, nobody.pw_gid))
    owners = {
        suffix: (os.stat(database + suffix).st_uid, os.stat(database + suffix).st_gid)
        for suffix in ("", ".jwt-secret", ".lock", "-wal")
    }
    mine = (nobody.pw_uid, nobody.pw_gid)
    assert owners == {"": mine, ".jwt-secret": mine, ".lock": mine, "-wal": (1234, 1234)}
    assert as_nobody(lambda: start(database)) == "started"  # as the server's user now
