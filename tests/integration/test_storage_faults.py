"""Storage faults against a real server and real clients: every request is answered
(``internal_error``, HTTP 500 with the error envelope), ``/ready`` says 503 while the
database cannot be written, the log has one line per fault and no traceback per
request, nothing acknowledged is lost, and the server recovers by itself.

The disk-full case mounts a small tmpfs and needs root; it is skipped without.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import sqlite3
import subprocess
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import orjson
import pytest

from lairchat.testing import ServerNotReady, ServerProcess
from lairchat.testing_clients import TCPClient, WSClient

PASSWORD = "storage-fault-password"
TIMEOUT = 15.0
INTERNAL_ERROR = {"code": "internal_error", "message": "Internal error"}


class Server(ServerProcess):
    def __init__(self, workdir: Path, db: Path, **env: str):
        try:
            super().__init__(workdir, LAIR_DATABASE_URL=f"sqlite:{db}", **env)
        except ServerNotReady as e:
            pytest.fail(str(e), pytrace=False)
        self.database = db

    def http(self, method: str, path: str, body: Any = None, token: str = "") -> tuple[int, Any]:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = orjson.dumps(body) if body is not None else None
        request = urllib.request.Request(self.url + path, data, headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
                return response.status, orjson.loads(response.read())
        except urllib.error.HTTPError as e:
            return e.code, orjson.loads(e.read())

    def ready(self) -> int:
        return self.http("GET", "/ready")[0]

    def wait_ready(self, status: int) -> None:
        """Until /ready answers ``status`` (a fault's end is seen by its next probe)."""
        deadline = time.monotonic() + TIMEOUT
        while self.ready() != status:
            assert time.monotonic() < deadline, f"/ready did not become {status}"
            time.sleep(0.1)


class Chat:
    """One registered user on TCP, in a room of their own."""

    def __init__(self, server: Server):
        self.server = server
        self.client = TCPClient.connect(server.tcp_port, timeout=TIMEOUT)
        self.client.hello()
        r = self.client.ok("register", username="faulty", email="f@example.com", password=PASSWORD)
        self.token = r["token"]
        self.room = self.client.ok("create_room", name="faults")["room"]["id"]
        self.acked: list[str] = []

    def send(self, content: str) -> dict[str, Any]:
        target = {"type": "room", "room_id": self.room}
        response = self.client.request("send_message", target=target, content=content)
        if response["success"]:
            self.acked.append(content)
        return response

    def stored(self) -> set[str]:
        return set(self.copies())

    def copies(self) -> Counter[str]:
        """How many times each content is stored."""
        with contextlib.closing(sqlite3.connect(self.server.database)) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
            return Counter(row[0] for row in conn.execute("SELECT content FROM messages"))

    def send_async(self, request_id: str, content: str) -> None:
        target = {"type": "room", "room_id": self.room}
        self.client.send(
            {"type": "send_message", "request_id": request_id, "target": target, "content": content}
        )

    def answer(self, request_id: str) -> dict[str, Any]:
        return self.client.wait_for(lambda m: m.get("request_id") == request_id)


def writer_pid(server: Server) -> int:
    """The message writer process's id."""
    (pid,) = subprocess.run(
        ["pgrep", "-f", f"lairchat.storage.sqlite.writer {server.database}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return int(pid)


def wait_stopped(pid: int) -> None:
    """Until the process is stopped (state T in /proc/PID/stat)."""
    deadline = time.monotonic() + TIMEOUT
    while Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "T":
        assert time.monotonic() < deadline, f"process {pid} did not stop"
        time.sleep(0.01)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    (tmp_path / "db").mkdir()
    started = Server(tmp_path / "work", tmp_path / "db" / "chat.db")
    yield started
    started.stop()


def refused_everywhere(server: Server, chat: Chat) -> None:
    """Every kind of request that needs the database is answered with the documented
    error; /ready is 503; the server is still there."""
    for n in range(3):
        response = chat.send(f"refused-{n}")
        assert (response["success"], response["error"]) == (False, INTERNAL_ERROR)
    ws = WSClient(server.http_port, f"/ws?token={chat.token}", timeout=TIMEOUT)
    assert ws.recv()["type"] == "server_hello"
    response = ws.recv()
    assert response["type"] == "authenticate_response"
    target = {"type": "room", "room_id": chat.room}
    if response["success"]:
        ws.send({"type": "client_hello", "version": "1.0"})
        response = ws.request("send_message", target=target, content="refused-ws")
    # else: authenticating touched the session (a write), and that failed
    assert (response["success"], response["error"]) == (False, INTERNAL_ERROR)
    ws.close()
    body = {"target": target, "content": "refused-http"}
    assert server.http("POST", "/api/v1/messages", body, chat.token) == (
        500,
        {"error": INTERNAL_ERROR},
    )
    assert server.http("POST", "/api/v1/rooms", {"name": "later"}, chat.token) == (
        500,
        {"error": INTERNAL_ERROR},
    )
    assert server.ready() == 503
    assert server.alive()


def one_line_per_fault(log: str) -> None:
    assert log.count("storage fault:") == 1, log
    assert "Traceback" not in log, log
    assert log.count("storage works again") == 1, log


def test_database_file_deleted_then_put_back(server: Server) -> None:
    chat = Chat(server)
    assert chat.send("before")["success"]
    offset = server.log_size()
    aside = server.database.with_name("aside.db")
    os.rename(server.database, aside)
    try:
        refused_everywhere(server, chat)
        assert not server.database.exists(), "nothing may create a new, empty database"
    finally:
        os.rename(aside, server.database)
    server.wait_ready(200)
    assert chat.send("after")["success"]
    one_line_per_fault(server.log_since(offset))
    assert "was deleted while open" in server.log_since(offset)
    stored = chat.stored()
    assert set(chat.acked) <= stored
    assert not any(content.startswith("refused") for content in stored)


def test_database_file_replaced_is_refused_until_restart(server: Server, tmp_path: Path) -> None:
    chat = Chat(server)
    assert chat.send("before")["success"]
    copy = tmp_path / "copy.db"
    shutil.copy(server.database, copy)
    os.replace(copy, server.database)
    refused_everywhere(server, chat)
    assert "was replaced by another file while open" in server.log()


def test_write_ahead_log_deleted_then_a_clean_restart_keeps_everything(
    server: Server, tmp_path: Path
) -> None:
    """Commits not yet copied into the database are in the deleted log, which the
    server still has open: it refuses writes, and a clean stop keeps them all."""
    chat = Chat(server)
    for n in range(5):
        assert chat.send(f"kept-{n}")["success"]
    os.remove(f"{server.database}-wal")
    # Reads at once, so that the reader pool opens its other connection: it must not
    # start a new, empty log (and lose the deleted one's commits with it).
    history = f"/api/v1/messages?target_type=room&target_id={chat.room}"
    with ThreadPoolExecutor(8) as readers:
        list(readers.map(lambda _: server.http("GET", history, token=chat.token), range(32)))
    refused_everywhere(server, chat)
    assert "write-ahead log" in server.log()
    server.stop()
    assert {f"kept-{n}" for n in range(5)} <= chat.stored()
    again = Server(tmp_path / "work", server.database)
    try:
        assert again.ready() == 200
    finally:
        again.stop()


def test_index_of_the_write_ahead_log_deleted_then_a_clean_restart_keeps_everything(
    server: Server, tmp_path: Path
) -> None:
    """The server's connections go on with the index they have mapped; a new message
    writer is refused (it would not share their locks); /ready says 503; a clean
    restart keeps every message, and the database intact."""
    chat = Chat(server)
    assert chat.send("before")["success"]
    os.remove(f"{server.database}-shm")
    assert server.ready() == 503
    assert "index of the database's write-ahead log" in server.log()
    assert chat.send("still")["success"]  # the writer running has the index
    offset = server.log_size()
    os.kill(writer_pid(server), signal.SIGKILL)
    deadline = time.monotonic() + TIMEOUT
    while "the message writer exited" not in server.log_since(offset):
        assert time.monotonic() < deadline, "the server did not see its writer die"
        time.sleep(0.05)
    response = chat.send("refused")  # a new writer would not share its locks
    assert (response["success"], response["error"]) == (False, INTERNAL_ERROR)
    assert server.alive()
    server.stop()
    assert chat.copies() == Counter({"before": 1, "still": 1})
    again = Server(tmp_path / "work", server.database)
    try:
        assert again.ready() == 200
    finally:
        again.stop()


def test_message_writer_killed_mid_stream(server: Server) -> None:
    """What the writer held when it died is in doubt; a new writer finds out which of
    it was stored and stores the rest: every message is acknowledged, once, and
    stored once."""
    chat = Chat(server)
    assert chat.send("before")["success"]
    writer = writer_pid(server)
    offset = server.log_size()
    for n in range(200):
        chat.send_async(f"k{n}", f"k{n}")
    os.kill(writer, signal.SIGKILL)
    answers: dict[str, dict[str, Any]] = {}
    while len(answers) < 200:  # every request is answered
        frame = chat.client.recv()
        if frame["type"] == "send_message_response":
            answers[frame["request_id"]] = frame
    assert [n for n, answer in answers.items() if not answer["success"]] == []
    assert chat.send("after")["success"]
    server.wait_ready(200)
    log = server.log_since(offset)
    assert log.count("] the message writer exited") == 1, log
    assert "storage fault:" not in log and "Traceback" not in log, log
    copies = chat.copies()
    assert all(copies[f"k{n}"] == 1 for n in range(200)), copies


def test_a_batch_committed_by_a_writer_killed_before_its_answer_is_acknowledged_once(
    tmp_path: Path,
) -> None:
    """The writer commits, then is killed before it answers (the test seam stops it
    between the two): the server finds the message stored, acknowledges it, and the
    room gets it, late; it is not stored again."""
    pause = tmp_path / "pause"
    (tmp_path / "db").mkdir()
    server = Server(
        tmp_path / "work",
        tmp_path / "db" / "chat.db",
        LAIRCHAT_TEST_WRITER_PAUSE_FILE=str(pause),
    )
    try:
        chat = Chat(server)
        watcher = TCPClient.connect(server.tcp_port, timeout=TIMEOUT)
        watcher.hello()
        watcher.ok("register", username="watcher", email="w@example.com", password=PASSWORD)
        watcher.ok("join_room", room_id=chat.room)
        assert chat.send("before")["success"]
        writer = writer_pid(server)
        offset = server.log_size()
        pause.touch()
        chat.send_async("d", "in doubt")
        wait_stopped(writer)  # committed, not answered
        assert chat.copies()["in doubt"] == 1
        pause.unlink()
        os.kill(writer, signal.SIGKILL)
        answer = chat.answer("d")
        assert answer["success"] is True and answer["message"]["content"] == "in doubt"
        event = watcher.wait_for(
            lambda m: m["type"] == "message_received" and m["message"]["content"] == "in doubt"
        )
        assert event["message"]["id"] == answer["message"]["id"]
        assert chat.send("after")["success"]
        assert chat.copies() == Counter({"before": 1, "in doubt": 1, "after": 1})
        log = server.log_since(offset)
        assert "1 batch(es) of messages are in doubt" in log, log
        assert "the outcome of 1 batch(es) of messages in doubt is known" in log, log
        assert "storage fault:" not in log and "Traceback" not in log, log
        assert server.ready() == 200
    finally:
        server.stop()


def test_a_batch_a_hung_writer_never_committed_is_stored_by_the_next(tmp_path: Path) -> None:
    """A stopped writer (SIGSTOP) never reads the batch; the watchdog (twice the busy
    timeout, here 1 s) kills it, and the next writer, finding nothing, stores it."""
    (tmp_path / "db").mkdir()
    server = Server(
        tmp_path / "work", tmp_path / "db" / "chat.db", LAIR_DATABASE_BUSY_TIMEOUT="0.5"
    )
    try:
        chat = Chat(server)
        assert chat.send("before")["success"]
        writer = writer_pid(server)
        offset = server.log_size()
        os.kill(writer, signal.SIGSTOP)
        chat.send_async("h", "held")
        answer = chat.answer("h")
        assert answer["success"] is True and answer["message"]["content"] == "held"
        assert chat.copies() == Counter({"before": 1, "held": 1})
        log = server.log_since(offset)
        assert "did not answer for 1 s (killed); 1 batch(es) of messages are in doubt" in (log), log
        assert "storage fault:" not in log and "Traceback" not in log, log
    finally:
        server.stop()


def test_a_lock_held_elsewhere_for_a_while(server: Server) -> None:
    """Shorter than the busy timeout (30 s): the messages sent meanwhile wait and are
    stored; /ready answers 503 once a write has waited 5 s, and 200 after."""
    chat = Chat(server)
    assert chat.send("before")["success"]
    offset = server.log_size()
    target = {"type": "room", "room_id": chat.room}
    with contextlib.closing(sqlite3.connect(server.database, isolation_level=None)) as other:
        other.execute("BEGIN EXCLUSIVE")
        chat.client.send(
            {"type": "send_message", "request_id": "w", "target": target, "content": "waited"}
        )
        server.wait_ready(503)
        other.execute("ROLLBACK")
    answer = chat.client.wait_for(lambda m: m.get("request_id") == "w")
    assert answer["success"] is True
    server.wait_ready(200)
    assert "waited" in chat.stored()
    log = server.log_since(offset)
    assert log.count("a write has waited") == 1 and "Traceback" not in log, log


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_disk_full_then_freed(small_disk: Path, tmp_path: Path) -> None:
    server = Server(tmp_path / "work", small_disk / "chat.db")
    try:
        chat = Chat(server)
        assert chat.send("before")["success"]
        offset = server.log_size()
        filler = small_disk / "filler"
        # Unbuffered (as the test below): a buffered file kept the last partial block
        # and raised ENOSPC when closed, outside the suppress, whenever the space left
        # was not a multiple of the write (a migration's few bytes made it so).
        with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
        # Sends fill what little room is left; then they are refused, and stay so.
        for n in range(50):
            chat.send("x" * 3000 + f"-{n}")
        refused_everywhere(server, chat)
        filler.unlink()
        server.wait_ready(200)
        assert chat.send("after")["success"]
        one_line_per_fault(server.log_since(offset))
        assert "database or disk is full" in server.log_since(offset)
        assert set(chat.acked) <= chat.stored()
    finally:
        server.stop()


def test_disk_full_when_a_batch_in_doubt_is_settled(small_disk: Path, tmp_path: Path) -> None:
    """The writer hangs (SIGSTOP) with a message it never read, and the disk is full
    when the next writer settles it: that writer finds it not stored and cannot store
    it, so it is certainly not stored: answered ``internal_error`` at once, without
    ``"stored":"unknown"``, and sending it again once there is room stores it once."""
    server = Server(tmp_path / "work", small_disk / "chat.db", LAIR_DATABASE_BUSY_TIMEOUT="0.5")
    try:
        chat = Chat(server)
        assert chat.send("before")["success"]
        filler = small_disk / "filler"
        with filler.open("wb", buffering=0) as f, contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 65536)
        offset = server.log_size()
        os.kill(writer_pid(server), signal.SIGSTOP)
        held = "held " + "y" * 3000
        chat.send_async("h", held)
        answer = chat.answer("h")
        assert (answer["success"], answer["error"]) == (False, INTERNAL_ERROR)
        log = server.log_since(offset)
        assert "1 not stored (OperationalError: database or disk is full) and failed" in log, log
        assert "Traceback" not in log, log
        filler.unlink()
        server.wait_ready(200)
        assert chat.send(held)["success"]
        assert chat.copies() == Counter({"before": 1, held: 1})
    finally:
        server.stop()


def test_a_clean_stop_with_http_clients_sending_logs_no_storage_fault(server: Server) -> None:
    """HTTP connections kept alive are not closed by the stop: messages they send
    after the message writer has stopped are refused (500 ``internal_error``, or the
    connection ends), and that was logged as ``storage fault: the message writer is
    stopped`` at every such clean stop."""
    chat = Chat(server)
    body = orjson.dumps({"target": {"type": "room", "room_id": chat.room}, "content": "late"})
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {chat.token}"}
    offset = server.log_size()
    statuses: Counter[Any] = Counter()

    def sends() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=TIMEOUT)
        try:
            while True:
                connection.request("POST", "/api/v1/messages", body, headers)
                response = connection.getresponse()
                response.read()
                statuses[response.status] += 1
        except (OSError, http.client.HTTPException):
            return  # the server went away
        finally:
            connection.close()

    with ThreadPoolExecutor(4) as senders:
        for _ in range(4):
            senders.submit(sends)
        deadline = time.monotonic() + TIMEOUT
        while statuses[201] < 100:
            assert time.monotonic() < deadline, statuses
            time.sleep(0.01)
        server.process.terminate()
        assert server.process.wait(timeout=TIMEOUT) == -signal.SIGTERM
    assert set(statuses) <= {201, 500}, statuses
    log = server.log_since(offset)
    assert "storage fault" not in log and "Traceback" not in log, log
