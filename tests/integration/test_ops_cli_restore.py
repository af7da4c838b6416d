"""``lairchat db restore`` as an operator runs it: against a real server, refused
while it runs (it keeps state in memory a restore would contradict), accepted once it
has stopped, cleanly or by SIGKILL (the kernel drops the server's flock with the
process); and from a backup in a directory it cannot write."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import pytest

from lairchat.testing import ServerNotReady, ServerProcess, server_env


def operator(
    env: dict[str, str], *argv: str, prefix: Sequence[str] = ()
) -> subprocess.CompletedProcess:
    """The operator command in a process of its own, on ``env``'s database."""
    return subprocess.run(
        [*prefix, sys.executable, "-m", "lairchat.cli", *argv],
        env={**env, "LAIR_NEW_PASSWORD": "password123"},
        capture_output=True,
        text=True,
        timeout=60,
    )


def lairchat(server: ServerProcess, *argv: str) -> subprocess.CompletedProcess:
    """The operator command, run as an operator would, on the server's database."""
    return operator(server.env, *argv)


def usernames(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return sorted(row[0] for row in conn.execute("SELECT username FROM users"))


@pytest.mark.parametrize("end", ["stop", "kill"])
def test_restore_waits_for_the_server_to_be_gone(tmp_path: Path, end: str) -> None:
    try:
        server = ServerProcess(tmp_path / "server")
    except ServerNotReady as e:
        pytest.fail(str(e), pytrace=False)
    backup = tmp_path / "backup.db"
    try:
        assert lairchat(server, "admin", "create-user", "alice", "a@example.com").returncode == 0
        assert lairchat(server, "db", "backup", str(backup)).returncode == 0
        assert lairchat(server, "admin", "create-user", "bob", "b@example.com").returncode == 0

        refused = lairchat(server, "db", "restore", str(backup))
        assert refused.returncode == 1
        assert refused.stderr == (
            f"lairchat: {server.database} is open by a running lairchat server:"
            " stop it before restoring\n"
        )
        assert server.alive()
        assert usernames(server.database) == ["alice", "bob"]
    finally:
        getattr(server, end)()
    server.stop()  # after a kill: closes the log

    restored = lairchat(server, "db", "restore", str(backup))
    assert restored.returncode == 0, restored.stderr
    assert usernames(server.database) == ["alice"]


@pytest.fixture
def read_only() -> Iterator[Callable[[Path], list[str]]]:
    """``read_only(directory)``: a command prefix under which ``directory`` cannot be
    written. Its mode does that for an ordinary user; root ignores modes, so for root
    it is a read-only bind mount, in a mount namespace of the command's own."""
    chmodded: list[Path] = []

    def prefix(directory: Path) -> list[str]:
        if os.geteuid() != 0:
            directory.chmod(0o555)
            chmodded.append(directory)
            return []
        mount = 'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && shift && exec "$@"'
        if (
            shutil.which("unshare") is None
            or subprocess.run(["unshare", "--mount", "true"], capture_output=True).returncode
        ):
            pytest.skip("root, and no mount namespace to make a directory read-only in")
        return ["unshare", "--mount", "sh", "-c", mount, "sh", str(directory)]

    yield prefix
    for directory in chmodded:
        directory.chmod(0o755)


def test_restore_from_a_read_only_directory(
    tmp_path: Path, read_only: Callable[[Path], list[str]]
) -> None:
    """Read-write, or with ``mode=ro`` alone, SQLite needs to create -wal and -shm
    files beside a backup in WAL mode: here it could not, and the restore failed
    ("not a lairchat database")."""
    env = server_env(tmp_path)
    backups = tmp_path / "backups"
    backups.mkdir()
    assert operator(env, "admin", "create-user", "alice", "a@example.com").returncode == 0
    assert operator(env, "db", "backup", str(backups / "backup.db")).returncode == 0
    assert operator(env, "admin", "create-user", "bob", "b@example.com").returncode == 0
    prefix = read_only(backups)
    probe = subprocess.run([*prefix, "touch", str(backups / "probe")], capture_output=True)
    assert probe.returncode != 0  # the directory is read-only indeed

    restored = operator(env, "db", "restore", str(backups / "backup.db"), prefix=prefix)
    assert restored.returncode == 0, restored.stderr
    assert usernames(tmp_path / "chat.db") == ["alice"]
    assert os.listdir(backups) == ["backup.db"]
