"""``lairchat db restore`` against a real server: refused while it runs (it keeps
state in memory a restore would contradict), accepted once it has stopped, cleanly or
by SIGKILL (the kernel drops the server's flock with the process)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from lairchat.testing import ServerNotReady, ServerProcess


def lairchat(server: ServerProcess, *argv: str) -> subprocess.CompletedProcess:
    """The operator command, run as an operator would, on the server's database."""
    return subprocess.run(
        [sys.executable, "-m", "lairchat.cli", *argv],
        env={**server.env, "LAIR_NEW_PASSWORD": "password123"},
        capture_output=True,
        text=True,
        timeout=60,
    )


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
