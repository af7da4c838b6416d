"""The test launcher itself: the server's own ports, and no false start."""

from __future__ import annotations

import socket

import pytest

from lairchat.testing import ServerNotReady, ServerProcess


def test_the_server_reports_the_ports_it_bound(tmp_path):
    server = ServerProcess(tmp_path)
    try:
        assert 0 not in (server.tcp_port, server.http_port)
        for port in (server.tcp_port, server.http_port):
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
        assert f"tcp on 127.0.0.1:{server.tcp_port}" in server.log()
    finally:
        server.stop()


def test_a_port_another_process_listens_on_is_a_failed_start(tmp_path):
    """Connecting would succeed (someone listens there), but it is not our server."""
    with socket.socket() as other:
        other.bind(("127.0.0.1", 0))
        other.listen()
        port = str(other.getsockname()[1])
        with pytest.raises(ServerNotReady, match="Address already in use") as refused:
            ServerProcess(tmp_path, LAIR_HTTP_PORT=port)
    # One line naming the setting, and a configuration error's status: no traceback.
    assert "lairchat exited with 2:" in str(refused.value)
    assert "Traceback" not in str(refused.value)
    [line] = [ln for ln in str(refused.value).splitlines() if "in use" in ln]
    assert f"LAIR_HTTP_PORT: Couldn't listen on 127.0.0.1:{port}" in line


def test_a_second_server_on_the_same_database_refuses_to_start(tmp_path):
    """Each server keeps memberships and live sessions in memory, so two on one file
    would each serve a state of their own: the second one refuses, with one line
    that says why, and starts once the first has stopped."""
    database = f"sqlite:{tmp_path / 'first' / 'chat.db'}"
    first = ServerProcess(tmp_path / "first")
    try:
        with pytest.raises(ServerNotReady, match="another lairchat server") as refused:
            ServerProcess(tmp_path / "second", LAIR_DATABASE_URL=database)
        assert "Traceback" not in str(refused.value)
        assert "chat.db.server.lock" in str(refused.value)
        assert first.alive()
        socket.create_connection(("127.0.0.1", first.tcp_port), timeout=5).close()
    finally:
        first.stop()
    second = ServerProcess(tmp_path / "second", LAIR_DATABASE_URL=database)
    second.stop()
