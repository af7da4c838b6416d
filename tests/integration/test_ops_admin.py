"""Operations on a running server: the first admin from the environment, a ban made
with the ``lairchat`` command closing a live connection, and the log lines (JSON,
level filter) under twistd, foreground and daemon."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from lairchat.testing_clients import ServerClosed
from tests.integration.test_ops_support import (
    ROOT,
    Server,
    closing_all,
    http_request,
    wait_until,
)

ADMIN_PASSWORD = "bootstrap-Secret-7"
CLI = "import sys; from lairchat.cli import main; sys.exit(main())"


def lairchat_command(server: Server, *argv: str) -> subprocess.CompletedProcess:
    """The operator command, run as an operator would, against the server's database."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LAIR_DATABASE_URL": f"sqlite:{server.db_path}"}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from lairchat.cli import main; sys.exit(main())",
            *argv,
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def test_first_admin_from_the_environment(tmp_path: Path, request) -> None:
    server = Server(
        tmp_path,
        env={
            "LAIR_ADMIN_USERNAME": "root_admin",
            "LAIR_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "LAIR_LOG_FORMAT": "json",
        },
    )
    request.addfinalizer(server.stop)
    status, _, body = http_request(
        server.http_port,
        "POST",
        "/api/v1/auth/login",
        body={"identifier": "root_admin", "password": ADMIN_PASSWORD},
    )
    assert status == 200, body
    token = json.loads(body)["token"]
    status, _, body = server.get(
        "/api/v1/admin/stats", headers={"Authorization": f"Bearer {token}"}
    )
    assert status == 200, body
    assert json.loads(body)["stats"]["total_users"] == 1

    lines = json_lines(server.output())  # every line is JSON
    assert any(line["message"] == "admin account root_admin created" for line in lines)
    assert ADMIN_PASSWORD not in server.output()


def test_an_unusable_admin_setting_stops_the_start_with_one_line(tmp_path: Path) -> None:
    server = Server(
        tmp_path,
        env={"LAIR_ADMIN_USERNAME": "root_admin", "LAIR_ADMIN_PASSWORD": "Zq7#"},
        wait=False,
    )
    try:
        server.process.wait(timeout=60)
        assert server.process.returncode == 2
        output = server.output().strip()
        assert output.startswith("lairchat: LAIR_ADMIN_PASSWORD: cannot create the admin")
        assert "\n" not in output
        assert "Zq7#" not in output
    finally:
        server.stop()


def test_a_ban_from_the_command_line_closes_live_connections(tmp_path: Path, request) -> None:
    server = Server(tmp_path)
    request.addfinalizer(server.stop)
    name = f"mallory_{uuid.uuid4().hex[:8]}"
    client = server.tcp()
    bystander = server.tcp()
    with closing_all(client, bystander):
        client.register(name)
        bystander.register(f"bob_{uuid.uuid4().hex[:8]}")
        done = lairchat_command(server, "admin", "ban", name, "--reason", "spam")
        assert done.returncode == 0, done.stderr
        assert "1 session(s) revoked" in done.stdout
        # The server checks connected sessions every 5 s: closed well within 10.
        client.sock.settimeout(15)
        frames = client.expect_closed()
        assert not [f for f in frames if f.get("type") == "send_message_response"]
        # Told why, as after a ban through the API.
        assert {"type": "error", "code": "account_banned", "message": "Account banned"} in frames
        bystander.send({"type": "ping"})
        assert bystander.wait_for(lambda f: f["type"] == "pong")
    wait_until(
        lambda: "was revoked elsewhere (user banned)" in server.output(), "for the revocation line"
    )

    # And the ban holds for a new login.
    status, _, body = http_request(
        server.http_port,
        "POST",
        "/api/v1/auth/login",
        body={"identifier": name, "password": "password123"},
    )
    assert status == 403 and b"account_banned" in body


@pytest.mark.parametrize(("args", "mode"), [([], 0o600), (["--umask=0027"], 0o640)])
def test_a_daemons_files_get_its_umask_from_the_start(
    tmp_path: Path, request, args: list[str], mode: int
) -> None:
    """twistd sets a daemon's umask (077 unless ``--umask``) only once the service is
    made, but the database and the log file are created while it is made: from a
    shell with umask 022 they were world-readable, password hashes and all."""
    old = os.umask(0o022)
    try:
        server = Server(tmp_path, daemon=True, args=args)
    finally:
        os.umask(old)
    request.addfinalizer(server.stop)
    server.get("/health")
    db = server.db_path
    for path in (db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
    assert stat.S_IMODE(server.logfile.stat().st_mode) == mode


@pytest.mark.parametrize("daemon", [False, True])
def test_a_relative_database_path_is_in_the_rundir(tmp_path: Path, request, daemon: bool) -> None:
    """twistd changes to --rundir only after the service is made: the start opened
    launch/rel.db and the pools and the message writer run/rel.db, unmigrated (500s)."""
    run = tmp_path / "run"
    run.mkdir()
    server = Server(
        tmp_path / "launch",
        env={"LAIR_DATABASE_URL": "sqlite:rel.db"},
        daemon=daemon,
        args=[f"--rundir={run}"],
    )
    request.addfinalizer(server.stop)
    status, _, _ = http_request(
        server.http_port,
        "POST",
        "/api/v1/auth/register",
        {"username": "rundir", "email": "r@example.com", "password": "password123"},
    )
    assert status == 201
    assert (run / "rel.db").exists() and not (tmp_path / "launch" / "rel.db").exists()


def test_json_log_lines_of_a_daemon(tmp_path: Path, request) -> None:
    server = Server(tmp_path, daemon=True, plugin_args=["--log-format=json"])
    request.addfinalizer(server.stop)
    client = server.tcp()
    client.close()
    server.get("/openapi.json")  # not a probe: those log at debug
    wait_until(
        lambda: "tcp connection closed" in server.output() and "/openapi.json" in server.output(),
        "for the connection and request lines",
    )
    lines = json_lines(server.output())
    opened = [line for line in lines if line["message"].startswith("tcp connection opened")]
    closed = [line for line in lines if line["message"].startswith("tcp connection closed")]
    assert len(opened) >= 1 and len(closed) >= 1  # (the readiness probe may add one)
    [answered] = [line for line in lines if line.get("path") == "/openapi.json"]
    assert answered["level"] == "info"
    assert (answered["method"], answered["route"], answered["status"]) == (
        "GET",
        "/openapi.json",
        200,
    )
    assert answered["client"] == "127.0.0.1"
    assert isinstance(answered["duration"], float)
    assert {"time", "level", "namespace", "message"} <= set(answered)
    # Ours replaces Twisted's combined-format access line: one line per request.
    assert "HTTP/1.1" not in server.output()


def test_log_level_filters(tmp_path: Path, request) -> None:
    server = Server(tmp_path, env={"LAIR_LOG_LEVEL": "warning"})
    request.addfinalizer(server.stop)
    server.get("/health")
    client = server.tcp()
    client.close()
    server.signal()
    server.wait_exit()
    output = server.output()
    assert "#info]" not in output, output
    assert "/health" not in output


def test_foreground_stop(tmp_path: Path, request) -> None:
    """A WebSocket-free smoke check of the foreground stop (the daemon case is in
    test_ops_shutdown.py): the log ends with the stop lines, the exit is prompt."""
    server = Server(tmp_path)
    request.addfinalizer(server.stop)
    client = server.tcp()
    with closing_all(client):
        client.register(f"solo_{uuid.uuid4().hex[:8]}")
        server.signal()
        try:
            frames = client.expect_closed()
        except ServerClosed:
            frames = []
    assert [f["type"] for f in frames] == ["server_notice"]
    server.wait_exit()
    assert server.output().rstrip().splitlines()[-1].endswith("Server Shut Down.")
