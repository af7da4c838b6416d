"""Starts and stops of a real server (``twistd -n lairchat``) in the unlucky cases an
operator meets. Each test failed before the fix it names."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from lairchat.storage.sqlite.migrate import migrate
from lairchat.testing import TWISTD, ServerProcess, server_env
from tests.unit.test_ops_cli_hostile import (
    another_applications_database,
    damage_all_but_migrations,
    tables,
)

TIMEOUT = 30.0


def children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def wait_for(what, timeout: float = TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not what():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.parametrize("again", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_during_a_stop_is_one_line_and_the_stop_goes_on(
    tmp_path: Path, again: signal.Signals
) -> None:
    """A second SIGTERM (or Ctrl-C) while the server was stopping made Twisted stop the
    reactor again: a critical ``ReactorNotRunning`` traceback in the log. The stop is
    held here by a stopped message writer, as a slow disk would hold it."""
    server = ServerProcess(tmp_path)
    try:
        [writer] = children(server.process.pid)
        os.kill(writer, signal.SIGSTOP)
        try:
            server.process.send_signal(signal.SIGTERM)
            wait_for(lambda: "lairchat stopping" in server.log())
            server.process.send_signal(again)
            name = again.name
            wait_for(lambda: f"{name} while stopping" in server.log())
            assert server.alive()
        finally:
            os.kill(writer, signal.SIGCONT)
        assert server.process.wait(timeout=TIMEOUT) == -signal.SIGTERM
        log = server.log()
        assert "Traceback" not in log and "ReactorNotRunning" not in log
        assert "lairchat stopped" in log
        assert log.count(f"{name} while stopping: the stop goes on") == 1
    finally:
        server.stop()


def test_another_applications_database_stops_the_start_untouched(tmp_path: Path) -> None:
    """A start on some other program's SQLite file (LAIR_DATABASE_URL pointing at the
    wrong file) wrote lairchat's tables into it among that program's own, and served."""
    db = tmp_path / "accounts.db"
    before = another_applications_database(db)
    env = server_env(tmp_path, LAIR_DATABASE_URL=f"sqlite:{db}")
    done = subprocess.run(  # noqa: S603
        [*TWISTD, "-n", "--pidfile=", "lairchat"],
        cwd=tmp_path,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "lairchat: LAIR_DATABASE_URL: not a lairchat database: it has tables of its own"
        " (invoices) and no lairchat migrations recorded; lairchat adds nothing to it\n"
    )
    assert tables(db) == before


@pytest.mark.parametrize(
    "admin",
    [{}, {"LAIR_ADMIN_USERNAME": "root_admin", "LAIR_ADMIN_PASSWORD": "password123"}],
    ids=["plain", "admin-bootstrap"],
)
def test_a_damaged_database_stops_the_start_with_one_line(
    tmp_path: Path, admin: dict[str, str]
) -> None:
    """A start on a damaged database ended in a traceback ending ``StorageFault:
    internal_error: DatabaseError: database disk image is malformed``, status 1; with
    the admin bootstrap on, the one line blamed LAIR_ADMIN_USERNAME."""
    db = tmp_path / "chat.db"
    conn = sqlite3.connect(db)
    migrate(conn)
    conn.close()
    damage_all_but_migrations(db)
    done = subprocess.run(  # noqa: S603
        [*TWISTD, "-n", "--pidfile=", "lairchat"],
        cwd=tmp_path,
        env=server_env(tmp_path, LAIR_DATABASE_URL=f"sqlite:{db}", **admin),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        f"lairchat: LAIR_DATABASE_URL: cannot read database '{db}':"
        " DatabaseError: database disk image is malformed\n"
    )


@pytest.mark.parametrize("daemon", [False, True], ids=["foreground", "daemon"])
def test_a_log_file_that_cannot_be_opened_is_one_line(tmp_path: Path, daemon: bool) -> None:
    """``--logfile`` in a missing directory: the plugin opens the log as it makes
    the service, and the start ended in a 30-line FileNotFoundError traceback."""
    log = tmp_path / "missing" / "lairchat.log"
    options = ["--pidfile", str(tmp_path / "lairchat.pid")] if daemon else ["-n", "--pidfile="]
    done = subprocess.run(  # noqa: S603
        [*TWISTD, *options, "--logfile", str(log), "lairchat"],
        cwd=tmp_path,
        env=server_env(tmp_path, LAIR_DATABASE_URL=f"sqlite:{tmp_path / 'chat.db'}"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == f"lairchat: --logfile: cannot open {log}: No such file or directory\n"
    assert not (tmp_path / "lairchat.pid").exists()
