"""A first start that goes wrong the commonest way: the port is taken (another
server, an earlier one still running). The operator is told in one line, and the
start leaves nothing behind."""

from __future__ import annotations

import os
import pwd
import re
import socket
import sqlite3
import subprocess
from pathlib import Path

import pytest

from lairchat.storage.sqlite.migrate import migrate
from lairchat.testing import TWISTD, Readiness, ServerProcess, server_env
from lairchat.tls import write_dev_certificate


@pytest.mark.parametrize("daemon", [False, True], ids=["foreground", "daemon"])
def test_a_taken_port_is_one_line_with_no_traceback_and_no_pid_file_left(
    tmp_path: Path, daemon: bool
) -> None:
    """Found starting ``twistd lairchat`` (as README.md says, without ``-n``) while
    another server had port 8082: the parent printed ``An error has occurred:
    b"lairchat.lifecycle.StartupError: LAIR_HTTP_PORT: Couldn't listen on
    0.0.0.0:8082: [Errno 98] Addre"`` (twistd cuts the line at 100 bytes, its class
    name first) and the log file held a 27-line traceback after the critical line.
    In the foreground (``-n --pidfile=...``) the pid file was left behind."""
    pidfile, logfile = tmp_path / "lairchat.pid", tmp_path / "lairchat.log"
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        mode = [] if daemon else ["-n"]
        done = subprocess.run(  # noqa: S603
            [*TWISTD, *mode, f"--pidfile={pidfile}", f"--logfile={logfile}", "lairchat"],
            cwd=tmp_path,
            env=server_env(tmp_path, LAIR_HTTP_PORT=str(port)),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    refusal = (
        f"LAIR_HTTP_PORT: Couldn't listen on 127.0.0.1:{port}: [Errno 98] Address already in use."
    )
    stopped_with_one_line(done, logfile, "lairchat.lifecycle.Listener", refusal, daemon)
    assert not pidfile.exists()


def stopped_with_one_line(
    done: subprocess.CompletedProcess, logfile: Path, logger: str, refusal: str, daemon: bool
) -> None:
    """A start that failed as a configuration error does: ``refusal`` once in the log,
    critical, from ``logger``, with no traceback; status 2 and nothing printed in the
    foreground, the line (cut at twistd's 100 bytes) printed by a daemon's parent."""
    log = logfile.read_text()
    assert f"[{logger}#critical] {refusal}\n" in log
    assert "Traceback" not in log
    if daemon:
        assert (done.returncode, done.stdout) == (1, "")
        assert done.stderr == (
            f"An error has occurred: {refusal[:98].encode()!r}\n"
            "Please look at log file for more information.\n"
        )
    else:
        assert (done.returncode, done.stdout, done.stderr) == (2, "", "")


def test_a_misspelt_setting_is_named_at_the_start(tmp_path: Path) -> None:
    """Found following docs/deployment.md: a typo in lairchat.env (``LAIR_HTTP_PORTS``)
    was ignored without a word, and the server served on the default port; a
    variable of another tool that shares the prefix is named too, but nothing stops."""
    server = ServerProcess(tmp_path, LAIR_HTTP_PORTS="9082", LAIR_SOMETHING_ELSE="1")
    try:
        log = server.log()
    finally:
        server.stop()
    ready = log.index("ready: tcp on")
    misspelt = log.index(
        "[lairchat.lifecycle#warn] LAIR_HTTP_PORTS is not a lairchat setting and is ignored"
        " (did you mean LAIR_HTTP_PORT?)\n"
    )
    other = log.index(
        "[lairchat.lifecycle#warn] LAIR_SOMETHING_ELSE is not a lairchat setting and is ignored\n"
    )
    assert misspelt < other < ready


def test_the_start_and_stop_log_no_memory_addresses(tmp_path: Path) -> None:
    """Found reading the first start's log: beside our ``tcp listening on ...`` came
    Twisted's ``Starting factory <lairchat.transports.tcp.LairTCPFactory object at
    0x7f32e04bb3d0>``, and the same ``Stopping factory`` lines at the stop."""
    server = ServerProcess(tmp_path)
    server.stop()
    log = server.log_path.read_text()
    assert "tcp listening on 127.0.0.1:" in log and "http stops listening" in log
    assert "lairchat stopped" in log
    assert " object at 0x" not in log


def test_the_ready_line_says_which_ports_speak_tls(tmp_path: Path) -> None:
    """Found serving with ``lairchat certs dev``'s certificate: the log said ``ready:
    tcp on 0.0.0.0:28080, http on 0.0.0.0:28082`` with TLS on both or on neither,
    so whether LAIR_TLS_ENABLED had taken effect took a client to find out."""
    cert, key = write_dev_certificate(str(tmp_path / "certs"))
    tls = {"LAIR_TLS_CERT_PATH": str(cert), "LAIR_TLS_KEY_PATH": str(key)}
    server = ServerProcess(tmp_path / "https", LAIR_TLS_ENABLED="true", **tls)
    server.stop()
    assert re.search(
        r"ready: tcp on 127\.0\.0\.1:\d+, http on 127\.0\.0\.1:\d+ \(TLS\);",
        server.log_path.read_text(),
    )
    both = ServerProcess(tmp_path / "both", LAIR_TLS_ENABLED="true", LAIR_TCP_TLS="on", **tls)
    both.stop()
    log = both.log_path.read_text()
    assert re.search(
        r"ready: tcp on 127\.0\.0\.1:\d+ \(TLS\), http on 127\.0\.0\.1:\d+ \(TLS\);", log
    )
    assert re.search(r"tcp listening on 127\.0\.0\.1:\d+ \(TLS\)\n", log)
    plain = ServerProcess(tmp_path / "plain")
    plain.stop()
    assert "(TLS)" not in plain.log_path.read_text()


@pytest.mark.skipif(os.geteuid() != 0, reason="--uid and --gid need root")
def test_with_uid_and_gid_the_database_files_are_the_servers_users(tmp_path: Path) -> None:
    """Found following docs/deployment.md's daemon command (``--uid=lairchat
    --gid=lairchat``): the service is made, and the database, its WAL, its JWT
    secret and its lock files created, while twistd is still root; they stayed
    root's (mode 0600), and the message writer, started after the switch, could not
    open the database: 'ready', then a 500 for every write and /ready 503.

    Here the switch is to root's own uid and nobody's group: a server switched to
    another uid could not start its message writer at all on a machine where the
    interpreter sits in a directory only root may enter (/root/.pyenv). The files
    must have the group twistd switches to (lairchat.lifecycle.hand_database_to;
    the uid half is in tests/unit/test_ops_permissions.py)."""
    group = pwd.getpwnam("nobody").pw_gid
    ready = Readiness()
    log = tmp_path / "server.log"
    env = server_env(tmp_path, LAIR_TCP_PORT="0", LAIR_HTTP_PORT="0", **ready.env)
    del env["LAIR_JWT_SECRET"]  # so that the start creates its secret file
    with log.open("wb") as out:
        server = subprocess.Popen(  # noqa: S603
            [*TWISTD, "-n", "--pidfile=", "--uid=0", f"--gid={group}", "lairchat"],
            cwd=tmp_path,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            ready.wait(server, 60, log.read_text)
            database = tmp_path / "chat.db"
            # Those the start makes (the WAL's files come with the first transaction).
            suffixes = ("", ".jwt-secret", ".lock", ".server.lock")
            groups = {s: Path(f"{database}{s}").stat().st_gid for s in suffixes}
            assert groups == dict.fromkeys(suffixes, group)
        finally:
            server.terminate()
            server.wait(timeout=30)
            ready.close()


def test_the_ready_line_names_the_database_and_whether_it_is_new(tmp_path: Path) -> None:
    """Found starting the quick start's server a second time from another directory:
    the relative default, lair-chat.db, was a new and empty database there, the
    accounts made before were gone, and nothing in the log said which file was in
    use."""
    for start in ("first", "again"):
        server = ServerProcess(tmp_path)
        server.stop()
        log = server.log_path.read_text()
        ready = next(line for line in log.splitlines() if " ready: " in line)
        new = " (new: made by this start)" if start == "first" else ""
        assert ready.endswith(f"; database {tmp_path / 'chat.db'}{new}"), (start, ready)
        server.log_path.unlink()


@pytest.mark.skipif(os.geteuid() != 0, reason="--uid and --gid need root")
@pytest.mark.parametrize("daemon", [False, True], ids=["foreground", "daemon"])
def test_a_database_the_uid_may_not_open_is_one_line(tmp_path: Path, daemon: bool) -> None:
    """docs/deployment.md's daemon command (``--uid=lairchat``) on a database of
    another user, mode 0600: the start, still root, opened it; the connection the
    server holds from its start (lairchat.service._hold) is opened after the switch
    and failed with a traceback ending ``sqlite3.OperationalError: unable to open
    database file``, status 1, where deployment.md promises the file named."""
    database = tmp_path / "chat.db"
    conn = sqlite3.connect(database)
    migrate(conn)
    conn.close()
    os.chown(database, 12345, 12345)  # someone else's
    database.chmod(0o600)
    logfile = tmp_path / "lairchat.log"
    nobody = pwd.getpwnam("nobody")
    mode = [] if daemon else ["-n"]
    done = subprocess.run(  # noqa: S603
        [
            *TWISTD,
            *mode,
            "--pidfile=",
            f"--logfile={logfile}",
            f"--uid={nobody.pw_uid}",
            f"--gid={nobody.pw_gid}",
            "lairchat",
        ],
        cwd=tmp_path,
        env=server_env(tmp_path, LAIR_DATABASE_URL=f"sqlite:{database}"),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
    )
    refusal = f"LAIR_DATABASE_URL: cannot open database '{database}': unable to open database file"
    stopped_with_one_line(done, logfile, "lairchat.lifecycle", refusal, daemon)
