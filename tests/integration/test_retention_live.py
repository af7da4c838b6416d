"""Message retention in a real server process (LAIR_MESSAGE_RETENTION_DAYS).

Messages are planted in the database with old ``created_at`` values before the
server starts; its first pass runs a second after the start (retention.FIRST_RUN),
in the server's writer pool, while the message writer process numbers the new
messages: those after the pass must not reuse a pruned message's seq."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from lairchat.testing import ServerProcess, server_env
from lairchat.testing_clients import TCPClient

PASSWORD = "password123"
DAY = 86400
#: A deadline, not a sleep: the first pass runs a second after the start.
PASS_TIMEOUT = 30.0


def plant(db: Path, author: str, *messages: tuple[str, float]) -> None:
    """``(content, age in days)`` DMs from ``author`` to themself, oldest rowid first."""
    now = time.time()
    with sqlite3.connect(db) as conn:
        (user_id,) = conn.execute("SELECT id FROM users WHERE username = ?", (author,)).fetchone()
        for i, (content, age) in enumerate(messages):
            created = int(now - age * DAY)
            conn.execute(
                "INSERT INTO messages (id, author_id, target_type, target_id, content, "
                "is_edited, created_at, updated_at) VALUES (?, ?, 'dm', ?, ?, 0, ?, ?)",
                (f"00000000-0000-7000-8000-{i:012d}", user_id, user_id, content, created, created),
            )


def rows(db: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT rowid, content FROM messages ORDER BY rowid").fetchall()


def test_the_server_prunes_old_messages_soon_after_start(tmp_path: Path) -> None:
    db = tmp_path / "chat.db"
    made = subprocess.run(
        [sys.executable, "-m", "lairchat.cli", "admin", "create-user", "alice", "a@example.com"],
        env={**server_env(tmp_path), "LAIR_NEW_PASSWORD": PASSWORD},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert made.returncode == 0, made.stderr
    # The newest two are old (a clock that stood earlier): their seqs must stay unused.
    plant(db, "alice", ("a year old", 365), ("kept", 1), ("31 days", 31), ("40 days", 40))
    server = ServerProcess(tmp_path, LAIR_MESSAGE_RETENTION_DAYS="30")
    try:
        deadline = time.monotonic() + PASS_TIMEOUT
        while "retention: deleted 3 message(s) older than 30 day(s)" not in server.log():
            assert time.monotonic() < deadline, server.log()
            assert server.alive(), server.log()
            time.sleep(0.05)
        assert rows(db) == [(2, "kept")]
        with TCPClient.connect(server.tcp_port) as alice:
            alice.hello()
            me = alice.ok("login", identifier="alice", password=PASSWORD)["user"]["id"]
            target = {"type": "dm", "recipient": me}
            history = alice.ok("get_messages", target=target, limit=10)
            assert [m["content"] for m in history["messages"]] == ["kept"]
            assert history["has_more"] is False
            alice.ok("send_message", target=target, content="after the pass")
        # Numbered past the pruned newest message (seq 4), by the message writer.
        assert rows(db) == [(2, "kept"), (5, "after the pass")]
        assert "retention: messages older than 30 day(s) are deleted every 1 h" in server.log()
    finally:
        server.stop()
